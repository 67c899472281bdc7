//! `nauthilus_opentelemetry`: tracing is not implemented, so `is_enabled()` is false and spans
//! do nothing; the full module is there so that scripts calling it unguarded keep working.

use mlua::{Function, Lua, MultiValue, Table, Value};

pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let noop = lua.create_function(|_, _: MultiValue| Ok(()))?;
    let span = lua.create_table()?;
    for name in [
        "set_attribute",
        "set_attributes",
        "add_event",
        "set_status",
        "record_error",
        "end",
        "finish",
    ] {
        span.raw_set(name, noop.clone())?;
    }
    let tracer = lua.create_table()?;
    let span_c = span.clone();
    tracer.raw_set(
        "start_span",
        lua.create_function(move |_, _: MultiValue| Ok(span_c.clone()))?,
    )?;
    let span_c = span.clone();
    tracer.raw_set(
        "with_span",
        lua.create_async_function(
            move |_, (_this, _name, f, _opts): (Value, Value, Function, Value)| {
                let span = span_c.clone();
                async move { f.call_async::<MultiValue>(span).await }
            },
        )?,
    )?;
    let t = lua.create_table()?;
    t.raw_set("is_enabled", lua.create_function(|_, ()| Ok(false))?)?;
    let tracer_c = tracer.clone();
    t.raw_set(
        "tracer",
        lua.create_function(move |_, _: MultiValue| Ok(tracer_c.clone()))?,
    )?;
    let tracer_c = tracer.clone();
    t.raw_set(
        "default_tracer",
        lua.create_function(move |_, _: MultiValue| Ok(tracer_c.clone()))?,
    )?;
    for name in ["baggage_set", "baggage_clear"] {
        t.raw_set(name, noop.clone())?;
    }
    t.raw_set(
        "baggage_get",
        lua.create_function(|_, _: MultiValue| Ok(Value::Nil))?,
    )?;
    t.raw_set(
        "baggage_all",
        lua.create_function(|lua, _: MultiValue| lua.create_table())?,
    )?;
    let ident = lua.create_function(|_, t: Value| Ok(t))?;
    t.raw_set("inject_headers", ident.clone())?;
    t.raw_set("extract_headers", ident)?;
    let semconv = lua.create_table()?;
    for name in ["peer_service", "http_client_attrs", "db_attrs", "net_attrs"] {
        semconv.raw_set(
            name,
            lua.create_function(|lua, _: MultiValue| lua.create_table())?,
        )?;
    }
    t.raw_set("semconv", semconv)?;
    Ok(t)
}
