//! A strict little XML reader for the tests (no XML crate is in the lock file): an XML
//! declaration, elements, attributes in either quote, text and CDATA-free content, the five
//! predefined entities and character references. Anything else (a bare `&` or `<`, an unknown
//! entity, mismatched or unclosed tags, a second root, a duplicate attribute, a character XML
//! 1.0 forbids) is an error, so a report that passes is well-formed.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The element's own text (its text nodes joined), decoded.
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The attribute, which must be there.
    pub fn at(&self, name: &str) -> &str {
        self.attr(name)
            .unwrap_or_else(|| panic!("<{}> has no {name}: {:?}", self.name, self.attrs))
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

pub fn parse(input: &str) -> Result<Element, String> {
    let mut p = Parser { s: input, i: 0 };
    if let Some(c) = input.chars().find(|c| !is_xml_char(*c)) {
        return Err(format!("character {c:?} is not allowed in XML 1.0"));
    }
    if p.rest().starts_with("<?xml") {
        let end = p.rest().find("?>").ok_or("unterminated XML declaration")?;
        p.i += end + 2;
    }
    p.skip_ws();
    let root = p.element()?;
    p.skip_ws();
    if p.i != input.len() {
        return Err(format!("content after the root element at byte {}", p.i));
    }
    Ok(root)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start_matches([' ', '\t', '\n', '\r']);
        self.i = self.s.len() - trimmed.len();
    }

    fn name(&mut self) -> Result<String, String> {
        let end = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')))
            .unwrap_or(self.rest().len());
        if end == 0 {
            return Err(format!("a name expected at byte {}", self.i));
        }
        let name = self.rest()[..end].to_owned();
        self.i += end;
        Ok(name)
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        if self.rest().starts_with(token) {
            self.i += token.len();
            Ok(())
        } else {
            Err(format!("{token:?} expected at byte {}", self.i))
        }
    }

    fn element(&mut self) -> Result<Element, String> {
        self.expect("<")?;
        let name = self.name()?;
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            let before = self.i;
            self.skip_ws();
            if self.rest().starts_with("/>") {
                self.i += 2;
                return Ok(Element {
                    name,
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            if self.rest().starts_with('>') {
                self.i += 1;
                break;
            }
            if self.i == before {
                return Err(format!(
                    "white space expected before an attribute at byte {}",
                    self.i
                ));
            }
            let attr = self.name()?;
            self.expect("=")?;
            let quote = self.rest().chars().next().ok_or("unexpected end")?;
            if quote != '"' && quote != '\'' {
                return Err(format!(
                    "an attribute value must be quoted at byte {}",
                    self.i
                ));
            }
            self.i += 1;
            let end = self
                .rest()
                .find(quote)
                .ok_or("unterminated attribute value")?;
            let raw = &self.rest()[..end];
            if raw.contains('<') {
                return Err(format!("'<' in the value of {attr}"));
            }
            let value = decode(raw)?;
            self.i += end + 1;
            if attrs.iter().any(|(n, _)| *n == attr) {
                return Err(format!("duplicate attribute {attr} on <{name}>"));
            }
            attrs.push((attr, value));
        }
        let mut children = Vec::new();
        let mut text = String::new();
        loop {
            let next = self
                .rest()
                .find('<')
                .ok_or_else(|| format!("<{name}> is not closed"))?;
            text.push_str(&decode(&self.rest()[..next])?);
            self.i += next;
            if self.rest().starts_with("</") {
                self.i += 2;
                let closing = self.name()?;
                if closing != name {
                    return Err(format!("</{closing}> closes <{name}>"));
                }
                self.skip_ws();
                self.expect(">")?;
                return Ok(Element {
                    name,
                    attrs,
                    children,
                    text,
                });
            }
            children.push(self.element()?);
        }
    }
}

fn decode(raw: &str) -> Result<String, String> {
    if raw.contains('>') && raw.contains("]]>") {
        return Err("]]> in text".to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').ok_or("a bare '&'")?;
        let entity = &rest[at + 1..at + end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .filter(|c| is_xml_char(*c))
                    .ok_or_else(|| format!("unknown entity &{entity};"))?
            }
        };
        out.push(c);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[test]
fn the_reader_is_strict() {
    let doc = parse(
        "<?xml version=\"1.0\"?>\n<a x=\"1 &amp; &lt;2&gt;&#10;\" y='q'><b/>t&apos;<c>z</c></a>\n",
    )
    .unwrap();
    assert_eq!(doc.at("x"), "1 & <2>\n");
    assert_eq!(doc.at("y"), "q");
    assert_eq!(doc.children.len(), 2);
    assert_eq!(doc.text, "t'");
    assert_eq!(doc.child("c").unwrap().text, "z");
    for bad in [
        "<a>",
        "<a></b>",
        "<a>&</a>",
        "<a>&nbsp;</a>",
        "<a x=1/>",
        "<a x=\"<\"/>",
        "<a/><b/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a>\u{1}</a>",
        "<a x=\"1\"y=\"2\"/>",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be refused");
    }
}
