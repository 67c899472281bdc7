//! Runtime tests on the in-process store: fresh environments, return conventions and limits.

use std::sync::Arc;
use std::time::Duration;

use mlua::{Lua, MultiValue};
use nauthilus_core::ScriptScratch;
use nauthilus_store::{KeyLayout, MemoryStore, Store};

use crate::Shared;
use crate::vm::{CallState, Kind, Pool, Script, ret_bool, ret_int};

fn shared(timeout: Duration) -> Arc<Shared> {
    Arc::new(Shared {
        store: Store::memory(MemoryStore::default(), KeyLayout::new("t:")),
        http: {
            crate::install_crypto_provider();
            reqwest::Client::new()
        },
        package_path: nauthilus_config::LuaConfig::DEFAULT_PACKAGE_PATH.to_owned(),
        redis_prefix: "t:".into(),
        log_format: "default",
        log_level: "info".into(),
        password_nonce: "nonce".into(),
        ip_scoping: (24, 64),
        timeout,
        memory_limit: 8 << 20,
        dns: Err("no resolver in unit tests".into()),
        sql_pools: std::sync::Mutex::default(),
        ldap: std::collections::HashMap::new(),
        brute_force: None,
    })
}

fn pool(src: &str, timeout: Duration) -> (Arc<Pool>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.lua");
    std::fs::write(&path, src).unwrap();
    let script = Script::load("s", path.to_str().unwrap()).unwrap();
    (
        Pool::new(Kind::Filter, shared(timeout), vec![script], 1, 0).unwrap(),
        dir,
    )
}

fn read(_: &Lua, v: MultiValue, _: &mut CallState) -> Result<(bool, i64), String> {
    Ok((ret_bool(&v, 0, "reject")?, ret_int(&v, 1, "result")?))
}

async fn call(p: &Arc<Pool>, user: &str) -> Result<(bool, i64), String> {
    let request = vec![("username", crate::vm::Field::Str(user.into()))];
    let state = CallState::new(Kind::Filter, ScriptScratch::default());
    let (mut r, _) = p
        .run(vec!["s".into()], "nauthilus_call_filter", request, state, read)
        .await;
    r.pop().unwrap().map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globals_do_not_leak_between_calls_on_one_vm() {
    let (p, _d) = pool(
        "function nauthilus_call_filter(r)\n  local seen = previous_user\n  previous_user = r.username\n  return seen ~= nil, 0\nend\n",
        Duration::from_secs(5),
    );
    assert_eq!(call(&p, "a").await, Ok((false, 0)));
    assert_eq!(
        call(&p, "b").await,
        Ok((false, 0)),
        "the second call saw the first one's global"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_nil_returns_read_as_false_and_zero_but_wrong_types_fail() {
    let (p, _d) = pool("function nauthilus_call_filter(r) end\n", Duration::from_secs(5));
    assert_eq!(call(&p, "a").await, Ok((false, 0)));
    let (p, _d) = pool(
        "function nauthilus_call_filter(r) return 'yes', 0 end\n",
        Duration::from_secs(5),
    );
    assert!(call(&p, "a").await.unwrap_err().contains("expected a boolean"));
    let (p, _d) = pool(
        "function nauthilus_call_filter(r) return true, 1.0 end\n",
        Duration::from_secs(5),
    );
    assert_eq!(call(&p, "a").await, Ok((true, 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loops_time_out_and_the_vm_is_replaced() {
    let (p, _d) = pool(
        "function nauthilus_call_filter(r)\n  if r.username == 'loop' then while true do end end\n  return false, 0\nend\n",
        Duration::from_millis(200),
    );
    let e = call(&p, "loop").await.unwrap_err();
    assert!(e.contains("timed out"), "{e}");
    assert_eq!(call(&p, "ok").await, Ok((false, 0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_fails_and_names_the_script() {
    let (p, _d) = pool(
        "function nauthilus_call_filter(r)\n  local t = {}\n  for i = 1, 1e9 do t[i] = string.rep('y', 512) .. i end\nend\n",
        Duration::from_secs(20),
    );
    let e = call(&p, "x").await.unwrap_err();
    assert!(e.contains("memory"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_file_and_line() {
    let (p, _d) = pool(
        "local x = 1\nfunction nauthilus_call_filter(r)\n  error('nope')\nend\n",
        Duration::from_secs(5),
    );
    let e = call(&p, "x").await.unwrap_err();
    assert!(e.contains("s.lua:3: nope"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_behave_as_plugins_expect() {
    let (p, _d) = pool(
        r#"
local json = require("json")
local util = require("nauthilus_util")
local time = require("time")
local b64 = require("base64")
local misc = require("nauthilus_misc")
function nauthilus_call_filter(r)
    assert(json.encode({}) == "[]")
    local _, err = json.encode({[1] = 1, [3] = 3})
    assert(err ~= nil, "sparse arrays are an error")
    local v = json.decode('{"a": [1, 2], "b": null}')
    assert(v.a[2] == 2 and v.b == nil)
    assert(tostring(3) == "3")
    assert(util.exists_in_table({"a", "b"}, "b"))
    assert(util.toboolean("true"))
    assert(time.format(0, "2006-01-02T15:04:05 -07:00", "UTC") == "1970-01-01T00:00:00 +00:00")
    assert(b64.StdEncoding:encode_to_string("hi") == "aGk=")
    assert(misc.scoped_ip("lua_generic", "192.0.2.77") == "192.0.2.0/24")
    assert(math.pow(2, 3) == 8)
    local redis = require("nauthilus_redis")
    local _, rerr = redis.redis_get("default", "k")
    assert(rerr ~= nil, "embedded mode has no Redis")
    return false, 0
end
"#,
        Duration::from_secs(5),
    );
    assert_eq!(call(&p, "x").await, Ok((false, 0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_tcp_and_psnet_work_on_real_sockets_and_files() {
    // A peer that answers "pong <what it read>" on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let _ = s.write_all(&[b"pong ", &buf[..n]].concat()).await;
            // Held open so that psnet sees an established connection.
            let _ = s.read(&mut buf).await;
        }
    });
    let db = tempfile::tempdir().unwrap();
    let file = db.path().join("t.db");
    let src = format!(
        r#"
local tcp = require("tcp")
local psnet = require("nauthilus_psnet")
local db = require("db")
function nauthilus_call_filter(r)
    local c, err = tcp.open("{addr}")
    assert(err == nil, err)
    assert(c:write("ping") == nil)
    local got, rerr = c:read(64)
    assert(rerr == nil and got == "pong ping", tostring(got) .. tostring(rerr))
    psnet.register_connection_target("{addr}", "remote", "the test peer")
    local n = psnet.get_connection_target("{addr}")
    assert(n >= 1, "established connections: " .. tostring(n))
    c:close()
    local none, nerr = psnet.get_connection_target("192.0.2.1:1")
    assert(none == nil and nerr == "Target not registered")
    local _, cerr = tcp.open("127.0.0.1:1")
    assert(cerr ~= nil)

    local h, oerr = db.open("sqlite3", "file:{file}", {{max_connections = 1}})
    assert(oerr == nil, oerr)
    assert(h:exec("CREATE TABLE t (id INTEGER, name TEXT, score REAL)") ~= nil)
    local done = h:exec("INSERT INTO t VALUES (?, ?, ?)", 7, "seven", 0.5)
    assert(done.rows_affected == 1 and done.last_insert_id == 1)
    assert(h:exec("INSERT INTO t VALUES (?, ?, ?)", 8, nil, 1) ~= nil)
    local res, qerr = h:query("SELECT id, name, score FROM t ORDER BY id")
    assert(qerr == nil, qerr)
    assert(res.columns[1] == "id" and res.columns[3] == "score")
    assert(res.rows[1][1] == 7 and res.rows[1][2] == "seven" and res.rows[1][3] == 0.5)
    assert(res.rows[2][2] == nil)
    local stmt = h:stmt("SELECT name FROM t WHERE id = ?")
    assert(stmt:query(7).rows[1][1] == "seven")
    local _, serr = h:query("SELECT * FROM no_such_table")
    assert(serr ~= nil and serr:find("no_such_table"), serr)
    local ro = db.open("sqlite3", "file:{file}", {{read_only = true}})
    local _, roerr = ro:exec("DELETE FROM t")
    assert(roerr ~= nil)
    local _, derr = db.open("oracle", "x")
    assert(derr ~= nil)
    return false, 0
end
"#,
        file = file.display()
    );
    let (p, _d) = pool(&src, Duration::from_secs(10));
    assert_eq!(call(&p, "x").await, Ok((false, 0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_of_many_calls_never_reaches_the_memory_limit() {
    // ~2 MiB of garbage per call on a VM limited to 8 MiB: without collection between calls
    // the fifth call would fail.
    let (p, _d) = pool(
        "function nauthilus_call_filter(r)\n  local t = {}\n  for i = 1, 2048 do t[i] = string.rep('g', 1000) .. i end\n  return false, #t\nend\n",
        Duration::from_secs(10),
    );
    for _ in 0..40 {
        assert_eq!(call(&p, "x").await, Ok((false, 2048)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_country_names_and_login_headers() {
    let (p, _d) = pool(
        r#"
local template = require("template")
local misc = require("nauthilus_misc")
local http = require("nauthilus_http_response")
function nauthilus_call_filter(r)
    local e = template.choose("mustache")
    local out = e:render("{{a}}|{{{a}}}|{{#l}}<{{.}}>{{/l}}|{{^none}}empty{{/none}}|{{n.x}}", {a = "<&>", l = {1, 2}, n = {x = "y"}})
    local _, bad = e:render("{{#open}}", {})
    http.set_http_response_header("X-One", "1")
    http.add_http_response_header("X-Two", "a")
    http.add_http_response_header("X-Two", "b")
    http.set_http_response_header("X-Gone", "x")
    http.remove_http_response_header("x-gone")
    local ok = out == "&lt;&amp;&gt;|<&>|<1><2>|empty|y" and bad ~= nil
        and misc.get_country_name("de") == "Germany" and misc.get_country_name("FRA") == "France"
        and misc.get_country_name("") == "Unknown" and misc.get_country_name(nil) == "Unknown"
    if not ok then
        error("unexpected: " .. tostring(out) .. " " .. tostring(bad))
    end
    return false, 0
end
"#,
        Duration::from_secs(5),
    );
    let scratch = ScriptScratch::default();
    let state = CallState::new(Kind::Filter, scratch.clone());
    let (mut r, _) = p
        .run(vec!["s".into()], "nauthilus_call_filter", Vec::new(), state, read)
        .await;
    assert_eq!(r.pop().unwrap().map_err(|e| e.to_string()), Ok((false, 0)));
    let headers = scratch.with(|s| s.response_headers.clone());
    let h = |n: &str, v: &str| (n.to_owned(), v.to_owned());
    assert_eq!(headers, [h("X-One", "1"), h("X-Two", "a"), h("X-Two", "b")]);
}
