//! Conversions between Lua values and Rust/JSON values, with the number rules of gopher-lua
//! scripts: integral numbers print without `.0`.

use mlua::{Lua, Table, Value};
use serde_json::{Map, Number, Value as Json};

/// A number as Lua 5.1 (`%.14g`) and go-redis print it for integral values: no `.0`.
pub fn number_string(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// A scalar Lua value as a string (strings, numbers, booleans); `None` for anything else.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string_lossy()),
        Value::Number(n) => Some(number_string(*n)),
        Value::Integer(i) => Some(i.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// True when `t` is a sequence 1..n (an empty table counts as one).
pub fn is_array(t: &Table) -> mlua::Result<Option<usize>> {
    let mut count = 0usize;
    let mut max = 0usize;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let idx = match k {
            Value::Integer(i) if i >= 1 => usize::try_from(i).ok(),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 && n < 9.0e15 => {
                format!("{n:.0}").parse::<usize>().ok()
            }
            _ => None,
        };
        match idx {
            Some(i) => {
                count += 1;
                max = max.max(i);
            }
            None => return Ok(None),
        }
    }
    Ok((count == max).then_some(count))
}

/// A Lua value as JSON: sequences become arrays (an empty table `[]`), other tables objects
/// with string keys. `strict` refuses sparse or mixed tables (as the `json` module does).
pub fn to_json(v: &Value, strict: bool, depth: usize) -> Result<Json, String> {
    if depth > 64 {
        return Err("nesting too deep".into());
    }
    Ok(match v {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => Json::from(*i),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Json::from(format!("{n:.0}").parse::<i64>().unwrap_or_default())
            } else {
                Number::from_f64(*n)
                    .map(Json::Number)
                    .ok_or("cannot encode NaN or infinity")?
            }
        }
        Value::String(s) => Json::String(s.to_string_lossy()),
        Value::Table(t) => {
            if let Some(n) = is_array(t).map_err(|e| e.to_string())? {
                let mut out = Vec::with_capacity(n);
                for i in 1..=n {
                    let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                    out.push(to_json(&item, strict, depth + 1)?);
                }
                Json::Array(out)
            } else {
                let mut map = Map::new();
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, val) = pair.map_err(|e| e.to_string())?;
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(_) | Value::Number(_) if strict => {
                            return Err("sparse array or mixed keys cannot be encoded".into());
                        }
                        other => scalar_string(other).ok_or("table keys must be strings or numbers")?,
                    };
                    map.insert(key, to_json(&val, strict, depth + 1)?);
                }
                Json::Object(map)
            }
        }
        Value::UserData(_) | Value::Function(_) | Value::Thread(_) | Value::LightUserData(_) => {
            return Err(format!("cannot convert a {} value", v.type_name()));
        }
        other => return Err(format!("cannot convert a {} value", other.type_name())),
    })
}

/// JSON as a Lua value (null → nil).
pub fn from_json(lua: &Lua, v: &Json) -> mlua::Result<Value> {
    Ok(match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => Value::Number(n.as_f64().unwrap_or_default()),
        Json::String(s) => Value::String(lua.create_string(s)?),
        Json::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, from_json(lua, item)?)?;
            }
            Value::Table(t)
        }
        Json::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(k.as_str(), from_json(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

/// An attribute value (`attributes(map)`): a scalar is one value, a sequence many.
pub fn attribute_values(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Table(t) => {
            let mut out = Vec::new();
            for item in t.clone().sequence_values::<Value>() {
                let item = item.map_err(|e| e.to_string())?;
                out.push(
                    scalar_string(&item).ok_or("attribute values must be strings, numbers or booleans")?,
                );
            }
            Ok(out)
        }
        other => {
            Ok(vec![scalar_string(other).ok_or(
                "attribute values must be strings, numbers or booleans",
            )?])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_numbers_print_without_a_fraction() {
        assert_eq!(number_string(3.0), "3");
        assert_eq!(number_string(-12.0), "-12");
        assert_eq!(number_string(0.5), "0.5");
        assert_eq!(number_string(1753264135.5), "1753264135.5");
    }
}
