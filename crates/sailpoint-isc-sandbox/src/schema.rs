//! Source schemas: the columns a delimited file of a source must have.
//!
//! A source has at most one schema of each [`SchemaKind`]: the account schema (`account`), which
//! `importAccounts` files must match and `getAccountsSchema` serves as a CSV header, and the group
//! schema (`group`), which `importEntitlements` files must match and `getEntitlementsSchema`
//! serves. Tests set them with [`Sandbox::set_schema`](crate::Sandbox::set_schema); a source
//! without one takes the header of its first upload of that kind (the identity attribute being
//! the first column).
//!
//! A file's header matches a schema when it names the same columns in the same order, compared
//! exactly (case included). Otherwise the upload is refused with a 400 whose message has ISC's
//! form, `Column: [<unknown>] is unknown and/or column: [<missing>] is missing`: the header's
//! names the schema lacks, in file order, and the schema's names the header lacks, in schema
//! order. When both sets are equal and only the order (or a repetition) differs, the lists name
//! the columns that are out of place: the header's names not at their schema position, and the
//! schema's names not at their header position.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ids::rfc3339;

/// Which of a source's schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaKind {
    /// The account schema (`name: "account"`): the columns of `importAccounts` files.
    Account,
    /// The group schema (`name: "group"`): the columns of `importEntitlements` files.
    Group,
}

impl SchemaKind {
    /// The schema's `name` (and `nativeObjectType`): `"account"` or `"group"`.
    pub fn name(self) -> &'static str {
        match self {
            SchemaKind::Account => "account",
            SchemaKind::Group => "group",
        }
    }

    /// The kind whose schema is called `name`, if any.
    pub fn from_name(name: &str) -> Option<SchemaKind> {
        [SchemaKind::Account, SchemaKind::Group]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// The `include-types` value of `getSourceSchemas` that selects this kind.
    fn include_type(self) -> &'static str {
        match self {
            SchemaKind::Account => "user",
            SchemaKind::Group => "group",
        }
    }
}

/// The columns of a source schema and which of them are special.
///
/// ```
/// use sailpoint_isc_sandbox::SourceSchema;
///
/// let schema = SourceSchema::new(["id", "name", "groups"])
///     .display_attribute("name")
///     .entitlement_attributes(["groups"]);
/// assert_eq!(schema.identity_attribute, "id");
/// assert_eq!(schema.header_line(), "id,name,groups");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceSchema {
    /// The column names, in file order.
    pub columns: Vec<String>,
    /// The column that identifies a row (the account id, the entitlement value): the key the
    /// sandbox compares loads by. The first column unless set.
    pub identity_attribute: String,
    /// The column shown as the row's name. The identity attribute unless set.
    pub display_attribute: String,
    /// Columns holding several values (one row per value, the other columns repeated).
    pub multi_valued: Vec<String>,
    /// Columns of an account schema holding entitlements of the group schema (multi-valued,
    /// `isEntitlement` and `isGroup` in `getSourceSchemas`).
    pub entitlement_attributes: Vec<String>,
}

impl SourceSchema {
    /// A schema of these columns, identified (and displayed) by the first one.
    pub fn new<I, S>(columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        let first = columns.first().cloned().unwrap_or_default();
        Self {
            columns,
            identity_attribute: first.clone(),
            display_attribute: first,
            multi_valued: Vec::new(),
            entitlement_attributes: Vec::new(),
        }
    }

    /// Identifies rows by the column `name` instead of the first one (the display attribute
    /// follows unless set separately afterwards).
    pub fn identity_attribute(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if self.display_attribute == self.identity_attribute {
            self.display_attribute = name.clone();
        }
        self.identity_attribute = name;
        self
    }

    /// Shows rows by the column `name`.
    pub fn display_attribute(mut self, name: impl Into<String>) -> Self {
        self.display_attribute = name.into();
        self
    }

    /// Marks these columns multi-valued.
    pub fn multi_valued<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.multi_valued = names.into_iter().map(Into::into).collect();
        self
    }

    /// Marks these columns as holding entitlements (multi-valued group references).
    pub fn entitlement_attributes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entitlement_attributes = names.into_iter().map(Into::into).collect();
        self
    }

    /// The CSV header line the schema endpoints answer (no line break; names holding a comma,
    /// a quote or a line break are quoted).
    pub fn header_line(&self) -> String {
        self.columns
            .iter()
            .map(|c| {
                if c.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The position of the identity attribute among the columns (0 if it is not one).
    pub(crate) fn key_column(&self) -> usize {
        self.columns
            .iter()
            .position(|c| *c == self.identity_attribute)
            .unwrap_or(0)
    }

    /// Why `self` is not a valid schema, if it is not.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.columns.is_empty() {
            return Some("a schema needs at least one column".into());
        }
        let mut seen = HashSet::new();
        if let Some(dup) = self.columns.iter().find(|c| !seen.insert(c.as_str())) {
            return Some(format!("column '{dup}' appears twice"));
        }
        let named = [&self.identity_attribute, &self.display_attribute]
            .into_iter()
            .chain(&self.multi_valued)
            .chain(&self.entitlement_attributes);
        for name in named {
            if !self.columns.contains(name) {
                return Some(format!("'{name}' is not a column of the schema"));
            }
        }
        None
    }

    /// ISC's refusal text when `header` does not match the schema, or `None` if it does.
    pub(crate) fn mismatch(&self, header: &[String]) -> Option<String> {
        if header == self.columns.as_slice() {
            return None;
        }
        let schema: HashSet<&str> = self.columns.iter().map(String::as_str).collect();
        let file: HashSet<&str> = header.iter().map(String::as_str).collect();
        let mut unknown: Vec<&str> = header
            .iter()
            .map(String::as_str)
            .filter(|c| !schema.contains(c))
            .collect();
        let mut missing: Vec<&str> = self
            .columns
            .iter()
            .map(String::as_str)
            .filter(|c| !file.contains(c))
            .collect();
        if unknown.is_empty() && missing.is_empty() {
            // Same names, other order (or a name repeated): the columns out of place.
            unknown = header
                .iter()
                .enumerate()
                .filter(|(i, c)| self.columns.get(*i) != Some(*c))
                .map(|(_, c)| c.as_str())
                .collect();
            missing = self
                .columns
                .iter()
                .enumerate()
                .filter(|(i, c)| header.get(*i) != Some(*c))
                .map(|(_, c)| c.as_str())
                .collect();
        }
        Some(mismatch_message(&unknown, &missing))
    }
}

/// ISC's message for a header that does not match the schema.
pub(crate) fn mismatch_message(unknown: &[&str], missing: &[&str]) -> String {
    format!(
        "Column: [{}] is unknown and/or column: [{}] is missing",
        unknown.join(", "),
        missing.join(", ")
    )
}

/// A schema as the tenant holds it.
#[derive(Debug, Clone)]
pub(crate) struct StoredSchema {
    pub id: String,
    pub kind: SchemaKind,
    pub schema: SourceSchema,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

impl StoredSchema {
    pub(crate) fn new(kind: SchemaKind, schema: SourceSchema) -> Self {
        let now = Utc::now();
        Self {
            id: crate::ids::hex32(),
            kind,
            schema,
            created: now,
            modified: now,
        }
    }

    /// Whether `getSourceSchemas`' `include-types` and `include-names` select it.
    pub(crate) fn selected(&self, include_type: Option<&str>, names: Option<&[String]>) -> bool {
        include_type.is_none_or(|t| t == self.kind.include_type())
            && names.is_none_or(|names| names.iter().any(|n| n == self.kind.name()))
    }

    /// The `Schema` body; `group_schema_id` is the id account attributes holding entitlements
    /// refer to.
    pub(crate) fn to_json(&self, group_schema_id: Option<&str>) -> Value {
        let s = &self.schema;
        let attributes: Vec<Value> = s
            .columns
            .iter()
            .map(|name| {
                let entitlement =
                    self.kind == SchemaKind::Account && s.entitlement_attributes.contains(name);
                let reference = match group_schema_id {
                    Some(id) if entitlement => {
                        json!({"type": "CONNECTOR_SCHEMA", "id": id, "name": "group"})
                    }
                    _ => Value::Null,
                };
                json!({
                    "name": name,
                    "nativeName": name,
                    "type": "STRING",
                    "schema": reference,
                    "description": "",
                    "isMulti": entitlement || s.multi_valued.contains(name),
                    "isEntitlement": entitlement,
                    "isGroup": entitlement,
                })
            })
            .collect();
        json!({
            "id": self.id,
            "name": self.kind.name(),
            "nativeObjectType": self.kind.name(),
            "identityAttribute": s.identity_attribute,
            "displayAttribute": s.display_attribute,
            "hierarchyAttribute": null,
            "includePermissions": false,
            "features": [],
            "configuration": {},
            "attributes": attributes,
            "created": rfc3339(self.created),
            "modified": rfc3339(self.modified),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn headers_must_match_names_and_order() {
        let schema = SourceSchema::new(["id", "name", "email"]);
        assert_eq!(schema.mismatch(&names(&["id", "name", "email"])), None);
        assert_eq!(
            schema.mismatch(&names(&["id", "Name", "mail"])).unwrap(),
            "Column: [Name, mail] is unknown and/or column: [name, email] is missing"
        );
        assert_eq!(
            schema.mismatch(&names(&["id", "name"])).unwrap(),
            "Column: [] is unknown and/or column: [email] is missing"
        );
        assert_eq!(
            schema.mismatch(&names(&["id", "email", "name"])).unwrap(),
            "Column: [email, name] is unknown and/or column: [name, email] is missing"
        );
        assert_eq!(
            schema
                .mismatch(&names(&["id", "name", "email", "id"]))
                .unwrap(),
            "Column: [id] is unknown and/or column: [] is missing"
        );
    }

    #[test]
    fn schemas_check_their_special_columns() {
        assert!(SourceSchema::new(["id"]).problem().is_none());
        assert!(SourceSchema::new(Vec::<String>::new()).problem().is_some());
        assert!(SourceSchema::new(["id", "id"]).problem().is_some());
        let s = SourceSchema::new(["id", "name"]).identity_attribute("name");
        assert_eq!(s.key_column(), 1);
        assert_eq!(s.display_attribute, "name");
        assert!(s.problem().is_none());
        assert!(
            SourceSchema::new(["id"])
                .multi_valued(["x"])
                .problem()
                .is_some()
        );
        assert_eq!(
            SourceSchema::new(["a,b", "c\"d", "e"]).header_line(),
            "\"a,b\",\"c\"\"d\",e"
        );
    }

    #[test]
    fn schema_bodies_mark_entitlement_attributes() {
        let s = StoredSchema::new(
            SchemaKind::Account,
            SourceSchema::new(["id", "groups"]).entitlement_attributes(["groups"]),
        );
        let body = s.to_json(Some("g1"));
        assert_eq!(body["name"], "account");
        assert_eq!(body["identityAttribute"], "id");
        assert_eq!(body["attributes"][0]["isEntitlement"], false);
        assert_eq!(body["attributes"][1]["isGroup"], true);
        assert_eq!(body["attributes"][1]["schema"]["id"], "g1");
        assert!(s.selected(Some("user"), None));
        assert!(!s.selected(Some("group"), None));
        assert!(s.selected(None, Some(&names(&["group", "account"]))));
        assert!(!s.selected(None, Some(&names(&["group"]))));
    }
}
