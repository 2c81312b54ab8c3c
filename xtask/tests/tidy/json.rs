//! Just enough JSON for `cargo metadata`.

#[derive(Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl std::ops::Index<&str> for Json {
    type Output = Json;
    fn index(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }
}

impl Json {
    pub(crate) fn parse(text: &str) -> Json {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        p.value()
    }
    pub(crate) fn str(&self) -> &str {
        self.opt_str()
            .unwrap_or_else(|| panic!("expected a JSON string, got {self:?}"))
    }
    pub(crate) fn opt_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => &[],
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, lit: &str) -> bool {
        let hit = self.s[self.i..].starts_with(lit.as_bytes());
        self.i += if hit { lit.len() } else { 0 };
        hit
    }
    fn value(&mut self) -> Json {
        self.ws();
        let v = match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut fields = Vec::new();
                loop {
                    self.ws();
                    if self.eat("}") {
                        break;
                    }
                    self.eat(",");
                    self.ws();
                    let key = self.string();
                    self.ws();
                    assert!(self.eat(":"), "JSON: expected ':' at {}", self.i);
                    fields.push((key, self.value()));
                }
                Json::Obj(fields)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.eat("]") {
                        break;
                    }
                    self.eat(",");
                    items.push(self.value());
                }
                Json::Arr(items)
            }
            b'"' => Json::Str(self.string()),
            b'n' | b't' | b'f' => {
                let (lit, v) = [
                    ("null", Json::Null),
                    ("true", Json::Bool(true)),
                    ("false", Json::Bool(false)),
                ]
                .into_iter()
                .find(|(lit, _)| self.s[self.i..].starts_with(lit.as_bytes()))
                .unwrap_or_else(|| panic!("JSON: unexpected byte at {}", self.i));
                self.i += lit.len();
                v
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                assert!(self.i > start, "JSON: unexpected byte at {start}");
                Json::Num(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
        };
        self.ws();
        v
    }
    fn string(&mut self) -> String {
        assert!(self.eat("\""), "JSON: expected a string at {}", self.i);
        let mut out = Vec::new();
        while self.s[self.i] != b'"' {
            if self.s[self.i] == b'\\' {
                self.i += 1;
                let esc = self.s[self.i];
                self.i += 1;
                match esc {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'u' => {
                        let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                        self.i += 4;
                        let mut code = u32::from_str_radix(hex, 16).unwrap();
                        if (0xD800..0xDC00).contains(&code) && self.eat("\\u") {
                            let low = u32::from_str_radix(
                                std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap(),
                                16,
                            )
                            .unwrap();
                            self.i += 4;
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        }
                        let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                        out.extend(ch.to_string().bytes());
                    }
                    other => out.push(other),
                }
            } else {
                out.push(self.s[self.i]);
                self.i += 1;
            }
        }
        self.i += 1;
        String::from_utf8(out).expect("JSON strings are UTF-8")
    }
}
