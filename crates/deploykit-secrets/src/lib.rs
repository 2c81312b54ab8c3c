//! Secrets Manager references and values held in types that never print.
