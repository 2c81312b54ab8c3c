//! deploy.toml schema, loading and validation with file:line:column diagnostics.
