//! ISC's standard collection parameters: `filters`, `sorters`, `limit`, `offset`, `count`.
//!
//! Filters are clauses `field op value` joined by `and` (case-insensitive keywords). Values are
//! double-quoted strings (a `"` or `\` inside is escaped with a backslash), or bare literals
//! (`true`, `null`, numbers). `in` takes a parenthesised list: `id in ("a","b")`. `isnull` takes no
//! value. Each endpoint names the fields and operators it supports; anything else (another
//! field, operator, `or`, `not`, nested groups) is refused with a 400, as ISC refuses filters it
//! does not support.

use std::fmt;

/// A filter operator the sandbox implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    In,
    IsNull,
    Sw,
    Co,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "in" => Op::In,
            "isnull" => Op::IsNull,
            "sw" => Op::Sw,
            "co" => Op::Co,
            _ => return None,
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "eq",
            Op::In => "in",
            Op::IsNull => "isnull",
            Op::Sw => "sw",
            Op::Co => "co",
        })
    }
}

/// A filter value: a quoted string or a bare literal (`null` is [`Literal::Null`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Literal {
    Str(String),
    Null,
}

/// One `field op value` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    pub field: String,
    pub op: Op,
    pub values: Vec<Literal>,
}

/// Which fields an endpoint filters on, with their operators.
pub(crate) type Supported = &'static [(&'static str, &'static [Op])];

/// How a field's value compares with filter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    Exact,
    IgnoreCase,
}

/// A parsed filter: every clause must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    pub clauses: Vec<Clause>,
}

impl Filter {
    /// Parses `input` against the supported fields and operators; the error is the 400's text.
    pub(crate) fn parse(input: &str, supported: Supported) -> Result<Filter, String> {
        let mut lexer = Lexer::new(input);
        let mut clauses = Vec::new();
        loop {
            let field = match lexer.next()? {
                Some(Token::Word(w)) => w,
                Some(other) => return Err(format!("expected a field name, found {other}")),
                None if clauses.is_empty() => return Ok(Filter::default()),
                None => return Err("expected a clause after 'and'".into()),
            };
            let op_word = match lexer.next()? {
                Some(Token::Word(w)) => w,
                Some(other) => {
                    return Err(format!(
                        "expected an operator after '{field}', found {other}"
                    ));
                }
                None => return Err(format!("expected an operator after '{field}'")),
            };
            let Some(ops) = supported
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, ops)| *ops)
            else {
                let fields: Vec<&str> = supported.iter().map(|(f, _)| *f).collect();
                return Err(format!(
                    "filtering on '{field}' is not supported; supported fields: {}",
                    fields.join(", ")
                ));
            };
            let op = Op::parse(&op_word)
                .filter(|op| ops.contains(op))
                .ok_or_else(|| {
                    let names: Vec<String> = ops.iter().map(Op::to_string).collect();
                    format!(
                        "operator '{op_word}' is not supported for '{field}'; supported: {}",
                        names.join(", ")
                    )
                })?;
            let values = match op {
                Op::IsNull => Vec::new(),
                Op::In => lexer.list()?,
                Op::Eq | Op::Sw | Op::Co => vec![lexer.value()?],
            };
            clauses.push(Clause { field, op, values });
            match lexer.next()? {
                None => return Ok(Filter { clauses }),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => {}
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("or") => {
                    return Err("'or' is not supported in these filters; use 'in'".into());
                }
                Some(other) => return Err(format!("expected 'and', found {other}")),
            }
        }
    }

    /// Whether `lookup` (a field's value, `None` for null) satisfies every clause.
    pub(crate) fn matches(&self, lookup: impl Fn(&str) -> (Option<String>, Compare)) -> bool {
        self.clauses.iter().all(|clause| {
            let (actual, compare) = lookup(&clause.field);
            let equal = |want: &Literal| match (want, &actual) {
                (Literal::Null, None) => true,
                (Literal::Str(w), Some(a)) => match compare {
                    Compare::Exact => w == a,
                    Compare::IgnoreCase => w.eq_ignore_ascii_case(a),
                },
                _ => false,
            };
            match clause.op {
                Op::IsNull => actual.is_none(),
                Op::Eq | Op::In => clause.values.iter().any(equal),
                Op::Sw | Op::Co => {
                    let (Some(Literal::Str(w)), Some(a)) = (clause.values.first(), &actual) else {
                        return false;
                    };
                    let (w, a) = match compare {
                        Compare::Exact => (w.clone(), a.clone()),
                        Compare::IgnoreCase => (w.to_lowercase(), a.to_lowercase()),
                    };
                    if clause.op == Op::Sw {
                        a.starts_with(&w)
                    } else {
                        a.contains(&w)
                    }
                }
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "'{w}'"),
            Token::Str(s) => write!(f, "\"{s}\""),
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
            Token::Comma => f.write_str("','"),
        }
    }
}

struct Lexer<'a> {
    rest: std::iter::Peekable<std::str::Chars<'a>>,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            rest: input.chars().peekable(),
        }
    }

    fn next(&mut self) -> Result<Option<Token>, String> {
        while self.rest.peek().is_some_and(|c| c.is_whitespace()) {
            self.rest.next();
        }
        let Some(c) = self.rest.next() else {
            return Ok(None);
        };
        Ok(Some(match c {
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            '"' => {
                let mut s = String::new();
                loop {
                    match self.rest.next() {
                        None => return Err("unterminated string".into()),
                        Some('"') => break,
                        Some('\\') => match self.rest.next() {
                            Some(escaped) => s.push(escaped),
                            None => return Err("unterminated string".into()),
                        },
                        Some(other) => s.push(other),
                    }
                }
                Token::Str(s)
            }
            c => {
                let mut w = String::from(c);
                while let Some(&c) = self.rest.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | ',' | '"') {
                        break;
                    }
                    w.push(c);
                    self.rest.next();
                }
                Token::Word(w)
            }
        }))
    }

    fn value(&mut self) -> Result<Literal, String> {
        match self.next()? {
            Some(Token::Str(s)) => Ok(Literal::Str(s)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Literal::Null),
            Some(Token::Word(w))
                if w.eq_ignore_ascii_case("true")
                    || w.eq_ignore_ascii_case("false")
                    || w.parse::<f64>().is_ok() =>
            {
                Ok(Literal::Str(w.to_ascii_lowercase()))
            }
            Some(other) => Err(format!(
                "expected a value (a double-quoted string), found {other}"
            )),
            None => Err("expected a value".into()),
        }
    }

    fn list(&mut self) -> Result<Vec<Literal>, String> {
        if self.next()? != Some(Token::Open) {
            return Err("'in' needs a parenthesised list: (\"a\", \"b\")".into());
        }
        let mut values = vec![self.value()?];
        loop {
            match self.next()? {
                Some(Token::Comma) => values.push(self.value()?),
                Some(Token::Close) => return Ok(values),
                Some(other) => return Err(format!("expected ',' or ')', found {other}")),
                None => return Err("unterminated list".into()),
            }
        }
    }
}

/// The paging and counting parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    pub limit: usize,
    pub offset: usize,
    pub count: bool,
}

/// The largest `limit` ISC accepts on these collections, and its default.
pub(crate) const MAX_LIMIT: usize = 250;

/// The collection parameters of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    pub filter: Filter,
    /// Sort keys in order: (field, descending).
    pub sorters: Vec<(String, bool)>,
    pub paging: Paging,
}

impl Params {
    /// Reads the query's collection parameters. Other parameters are ignored.
    pub(crate) fn parse(
        query: &[(String, String)],
        filters: Supported,
        sorters: &[&str],
    ) -> Result<Params, String> {
        let last = |name: &str| {
            query
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let number = |name: &str, max: Option<usize>, default: usize| -> Result<usize, String> {
            let Some(raw) = last(name) else {
                return Ok(default);
            };
            let n: i64 = raw
                .trim()
                .parse()
                .map_err(|_| format!("'{name}' must be an integer, not \"{raw}\""))?;
            let n = usize::try_from(n).map_err(|_| format!("'{name}' must not be negative"))?;
            match max {
                Some(max) if n > max => Err(format!("'{name}' must be at most {max}")),
                _ => Ok(n),
            }
        };
        let limit = number("limit", Some(MAX_LIMIT), MAX_LIMIT)?;
        let offset = number("offset", None, 0)?;
        let count = match last("count").map(str::trim) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(format!("'count' must be true or false, not \"{v}\"")),
        };
        let filter = match last("filters") {
            Some(f) => Filter::parse(f, filters).map_err(|e| format!("invalid filters: {e}"))?,
            None => Filter::default(),
        };
        let mut sort = Vec::new();
        if let Some(raw) = last("sorters") {
            for key in raw.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                let (field, descending) = match key.strip_prefix('-') {
                    Some(f) => (f, true),
                    None => (key, false),
                };
                if !sorters.contains(&field) {
                    return Err(format!(
                        "sorting on '{field}' is not supported; supported: {}",
                        sorters.join(", ")
                    ));
                }
                sort.push((field.to_owned(), descending));
            }
        }
        Ok(Params {
            filter,
            sorters: sort,
            paging: Paging {
                limit,
                offset,
                count,
            },
        })
    }
}

/// Applies offset and limit; returns the page and the total before paging.
pub(crate) fn page<T>(items: Vec<T>, paging: Paging) -> (Vec<T>, usize) {
    let total = items.len();
    let page = items
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit)
        .collect();
    (page, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASKS: Supported = &[
        ("id", &[Op::Eq, Op::In]),
        ("sourceId", &[Op::Eq, Op::In]),
        ("completionStatus", &[Op::Eq, Op::In, Op::IsNull]),
        ("type", &[Op::Eq, Op::In]),
    ];

    fn s(v: &str) -> Literal {
        Literal::Str(v.into())
    }

    #[test]
    fn parses_and_joined_clauses() {
        let f = Filter::parse(
            r#"type eq "CLOUD_ACCOUNT_AGGREGATION" AND sourceId eq "abc" and completionStatus isnull"#,
            TASKS,
        )
        .unwrap();
        assert_eq!(
            f.clauses,
            [
                Clause {
                    field: "type".into(),
                    op: Op::Eq,
                    values: vec![s("CLOUD_ACCOUNT_AGGREGATION")]
                },
                Clause {
                    field: "sourceId".into(),
                    op: Op::Eq,
                    values: vec![s("abc")]
                },
                Clause {
                    field: "completionStatus".into(),
                    op: Op::IsNull,
                    values: vec![]
                },
            ]
        );
        let f = Filter::parse(r#"id in ("a","b" , "c")"#, TASKS).unwrap();
        assert_eq!(f.clauses[0].values, [s("a"), s("b"), s("c")]);
        assert_eq!(Filter::parse("  ", TASKS).unwrap(), Filter::default());
    }

    #[test]
    fn escaped_quotes_stay_in_the_value() {
        let names: Supported = &[("name", &[Op::Eq])];
        let f = Filter::parse(r#"name eq "HR \"Feed\" \\ 2""#, names).unwrap();
        assert_eq!(f.clauses[0].values, [s(r#"HR "Feed" \ 2"#)]);
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        for bad in [
            r#"name eq "x""#,
            r#"id ne "x""#,
            r#"completionStatus sw "x""#,
            r#"id eq "a" or id eq "b""#,
            r#"id eq "a" and"#,
            r#"id eq "a" id eq "b""#,
            r#"id eq "unterminated"#,
            r#"id in "a""#,
            r#"id in ("a" "b")"#,
            r#"id in ("a","#,
            r#"id eq abc"#,
            r#"id eq"#,
            r#"id"#,
            r#"(id eq "a")"#,
            r#"type isnull"#,
        ] {
            assert!(Filter::parse(bad, TASKS).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn matching() {
        let f = Filter::parse(
            r#"completionStatus in ("success", null) and id eq "1""#,
            TASKS,
        )
        .unwrap();
        let task = |id: &'static str, status: Option<&'static str>| {
            move |field: &str| match field {
                "id" => (Some(id.to_owned()), Compare::Exact),
                "completionStatus" => (status.map(str::to_owned), Compare::IgnoreCase),
                _ => (None, Compare::Exact),
            }
        };
        assert!(f.matches(task("1", Some("SUCCESS"))));
        assert!(f.matches(task("1", None)));
        assert!(!f.matches(task("1", Some("ERROR"))));
        assert!(!f.matches(task("2", None)));
        let f = Filter::parse("completionStatus isnull", TASKS).unwrap();
        assert!(f.matches(task("1", None)));
        assert!(!f.matches(task("1", Some("SUCCESS"))));
        let f = Filter::parse(r#"id eq "X""#, TASKS).unwrap();
        assert!(!f.matches(task("x", None)), "ids compare exactly");
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn paging_parameters() {
        let p = Params::parse(&q(&[]), TASKS, &["created"]).unwrap();
        assert_eq!(
            p.paging,
            Paging {
                limit: 250,
                offset: 0,
                count: false
            }
        );
        let p = Params::parse(
            &q(&[
                ("limit", "2"),
                ("offset", "3"),
                ("count", "true"),
                ("sorters", "-created"),
            ]),
            TASKS,
            &["created"],
        )
        .unwrap();
        assert_eq!(
            p.paging,
            Paging {
                limit: 2,
                offset: 3,
                count: true
            }
        );
        assert_eq!(p.sorters, [("created".to_owned(), true)]);
        for bad in [
            ("limit", "251"),
            ("limit", "-1"),
            ("limit", "ten"),
            ("offset", "-5"),
            ("count", "yes"),
            ("sorters", "name"),
            ("filters", "bogus"),
        ] {
            assert!(
                Params::parse(&q(&[bad]), TASKS, &["created"]).is_err(),
                "accepted {bad:?}"
            );
        }
        let (items, total) = page(
            (0..10).collect(),
            Paging {
                limit: 3,
                offset: 8,
                count: true,
            },
        );
        assert_eq!((items, total), (vec![8, 9], 10));
    }
}
