//! Renders the catalogue as the Markdown key table in `docs/configuration.md`; a test keeps the
//! two identical.

use crate::catalogue::KEYS;

/// The generated reference table (one row per implemented key).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| key | type | default | environment variable | meaning |\n|---|---|---|---|---|\n");
    for key in KEYS {
        let default = if key.default.is_empty() {
            "—".to_owned()
        } else {
            format!("`{}`", key.default)
        };
        let env = key.env_var().map_or_else(|| "—".to_owned(), |v| format!("`{v}`"));
        out.push_str(&format!(
            "| `{}` | {} | {default} | {env} | {} |\n",
            key.path,
            key.kind.describe(),
            key.doc
        ));
    }
    out
}
