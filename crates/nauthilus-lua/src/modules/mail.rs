//! `nauthilus_mail.send_mail({server, port, helo_name, username, password, from, to, subject,
//! body, tls, starttls, lmtp})` → nil on success or an error string (one value, as in
//! Nauthilus). SMTP through lettre: `tls` is implicit TLS (SMTPS), `starttls` requires STARTTLS,
//! neither is plain SMTP; credentials are used only when a username is given. LMTP is refused
//! with an error (lettre speaks SMTP only).

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mlua::{Lua, Table, Value};

/// How long one delivery may take (connect, dialogue, data).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// One message as the script describes it.
#[derive(Debug)]
struct Mail {
    server: String,
    port: u16,
    helo_name: String,
    username: String,
    password: String,
    from: String,
    to: Vec<String>,
    subject: String,
    body: String,
    tls: bool,
    starttls: bool,
    lmtp: bool,
}

fn read(t: &Table) -> Result<Mail, String> {
    let s = |k: &str| -> Result<String, String> {
        match t.get::<Value>(k).map_err(|e| e.to_string())? {
            Value::Nil => Ok(String::new()),
            v => crate::value::scalar_string(&v).ok_or_else(|| format!("{k}: expected a string")),
        }
    };
    let b = |k: &str| -> Result<bool, String> {
        match t.get::<Value>(k).map_err(|e| e.to_string())? {
            Value::Nil => Ok(false),
            Value::Boolean(b) => Ok(b),
            _ => Err(format!("{k}: expected a boolean")),
        }
    };
    let port = match t.get::<Value>("port").map_err(|e| e.to_string())? {
        Value::Integer(n) => u16::try_from(n).map_err(|_| "port: out of range".to_owned())?,
        Value::Number(n) if n.is_finite() && n.fract() == 0.0 && (1.0..=65535.0).contains(&n) => {
            format!("{n:.0}")
                .parse()
                .map_err(|_| "port: out of range".to_owned())?
        }
        Value::Nil => 25,
        _ => return Err("port: expected a number".into()),
    };
    let to = match t.get::<Value>("to").map_err(|e| e.to_string())? {
        Value::Table(list) => list
            .sequence_values::<Value>()
            .map(|v| {
                v.ok()
                    .as_ref()
                    .and_then(crate::value::scalar_string)
                    .ok_or_else(|| "to: expected a list of addresses".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::String(one) => vec![one.to_string_lossy()],
        _ => return Err("to: expected a list of addresses".into()),
    };
    Ok(Mail {
        server: s("server")?,
        port,
        helo_name: s("helo_name")?,
        username: s("username")?,
        password: s("password")?,
        from: s("from")?,
        to,
        subject: s("subject")?,
        body: s("body")?,
        tls: b("tls")?,
        starttls: b("starttls")?,
        lmtp: b("lmtp")?,
    })
}

async fn send(mail: Mail) -> Result<(), String> {
    if mail.lmtp {
        return Err("send_mail: lmtp is not supported, use smtp".into());
    }
    if mail.server.is_empty() {
        return Err("send_mail: server is required".into());
    }
    if mail.to.is_empty() {
        return Err("send_mail: no recipient".into());
    }
    let from: Mailbox = mail.from.parse().map_err(|e| format!("send_mail: from: {e}"))?;
    let mut builder = Message::builder().from(from).subject(mail.subject);
    for to in &mail.to {
        let to: Mailbox = to.parse().map_err(|e| format!("send_mail: to {to:?}: {e}"))?;
        builder = builder.to(to);
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body)
        .map_err(|e| format!("send_mail: {e}"))?;
    let tls = if mail.tls || mail.starttls {
        let params = TlsParameters::new(mail.server.clone()).map_err(|e| format!("send_mail: tls: {e}"))?;
        if mail.tls {
            Tls::Wrapper(params)
        } else {
            Tls::Required(params)
        }
    } else {
        Tls::None
    };
    let helo = if mail.helo_name.is_empty() {
        ClientId::Domain("localhost".into())
    } else {
        ClientId::Domain(mail.helo_name)
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(mail.server)
        .port(mail.port)
        .tls(tls)
        .hello_name(helo)
        .timeout(Some(SEND_TIMEOUT));
    if !mail.username.is_empty() {
        transport = transport.credentials(Credentials::new(mail.username, mail.password));
    }
    let transport = transport.build();
    tokio::time::timeout(SEND_TIMEOUT, transport.send(message))
        .await
        .map_err(|_| "send_mail: timed out".to_owned())?
        .map(|_| ())
        .map_err(|e| format!("send_mail: {e}"))
}

pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "send_mail",
        lua.create_async_function(|lua, settings: Table| async move {
            let result = match read(&settings) {
                Ok(mail) => send(mail).await,
                Err(e) => Err(format!("send_mail: {e}")),
            };
            match result {
                Ok(()) => Ok(Value::Nil),
                Err(e) => {
                    tracing::warn!(error = %e, "nauthilus_mail: message not sent");
                    Ok(Value::String(lua.create_string(e)?))
                }
            }
        })?,
    )?;
    Ok(t)
}
