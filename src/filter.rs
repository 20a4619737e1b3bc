//! Metadata filters in the JSON shape Chroma users know.
//!
//! ```json
//! {"$and": [{"year": {"$gte": 2020}}, {"lang": {"$in": ["en", "fr"]}}, {"draft": {"$ne": true}}]}
//! ```
//!
//! - `{"field": value}` is `{"field": {"$eq": value}}`; several fields in one object must all match.
//! - Comparisons: `$eq $ne $gt $gte $lt $lte $in $nin $exists`; logic: `$and $or $not`.
//! - A dotted field (`"author.name"`) reaches into nested objects.
//! - `$gt`, `$gte`, `$lt`, `$lte` compare numbers with numbers and strings with strings; other
//!   pairs do not match. `$ne` and `$nin` match records that lack the field, as in MongoDB.
//!
//! Parsing checks the whole filter up front, so a malformed one is an error that names the
//! offending part, never a filter that silently matches nothing.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

/// A parsed, checked metadata filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every filter matches.
    And(Vec<Filter>),
    /// At least one filter matches.
    Or(Vec<Filter>),
    /// The filter does not match.
    Not(Box<Filter>),
    /// A condition on one field.
    Field {
        /// The dotted path to the field.
        path: String,
        /// The comparison.
        op: Op,
    },
}

/// A comparison on one field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Equal to the value.
    Eq(Value),
    /// Not equal to the value (or absent).
    Ne(Value),
    /// Greater than.
    Gt(Value),
    /// Greater than or equal.
    Gte(Value),
    /// Less than.
    Lt(Value),
    /// Less than or equal.
    Lte(Value),
    /// Equal to one of the values.
    In(Vec<Value>),
    /// Equal to none of the values (or absent).
    Nin(Vec<Value>),
    /// Present (`true`) or absent (`false`).
    Exists(bool),
}

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at {at}: {reason}")]
pub struct FilterError {
    /// Where in the filter, e.g. `$and[1].year`.
    pub at: String,
    /// What is wrong there.
    pub reason: String,
}

impl Filter {
    /// Parses a filter from JSON.
    ///
    /// # Errors
    ///
    /// [`FilterError`] naming where the filter is malformed: not an object, an unknown `$`
    /// operator, `$in` without an array, an empty `$and`, a range operator on a non-scalar.
    pub fn parse(value: &Value) -> Result<Filter, FilterError> {
        parse_object(value, "filter")
    }

    /// Parses a filter from JSON text.
    ///
    /// # Errors
    ///
    /// As [`Filter::parse`], and for text that is not JSON.
    pub fn parse_str(text: &str) -> Result<Filter, FilterError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| FilterError { at: "filter".into(), reason: format!("not JSON: {e}") })?;
        Filter::parse(&value)
    }

    /// Whether a record's metadata matches.
    pub fn matches(&self, metadata: &Map<String, Value>) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(metadata)),
            Filter::Or(any) => any.iter().any(|f| f.matches(metadata)),
            Filter::Not(f) => !f.matches(metadata),
            Filter::Field { path, op } => op.matches(lookup(metadata, path)),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl Op {
    fn matches(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Op::Exists(want), v) => v.is_some() == *want,
            (Op::Ne(x), v) => v.is_none_or(|v| !equal(v, x)),
            (Op::Nin(xs), v) => v.is_none_or(|v| !xs.iter().any(|x| equal(v, x))),
            (_, None) => false,
            (Op::Eq(x), Some(v)) => equal(v, x),
            (Op::In(xs), Some(v)) => xs.iter().any(|x| equal(v, x)),
            (Op::Gt(x), Some(v)) => order(v, x) == Some(Ordering::Greater),
            (Op::Gte(x), Some(v)) => {
                matches!(order(v, x), Some(Ordering::Greater | Ordering::Equal))
            }
            (Op::Lt(x), Some(v)) => order(v, x) == Some(Ordering::Less),
            (Op::Lte(x), Some(v)) => matches!(order(v, x), Some(Ordering::Less | Ordering::Equal)),
        }
    }
}

fn lookup<'a>(metadata: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = metadata.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = metadata.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// Equality where `1` and `1.0` are the same number.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn error(at: &str, reason: impl Into<String>) -> FilterError {
    FilterError { at: at.into(), reason: reason.into() }
}

fn parse_object(value: &Value, at: &str) -> Result<Filter, FilterError> {
    let Value::Object(map) = value else {
        return Err(error(at, format!("expected an object, found {value}")));
    };
    if map.is_empty() {
        return Err(error(at, "an empty object is not a filter"));
    }
    let mut parts = Vec::with_capacity(map.len());
    for (key, value) in map {
        parts.push(match key.as_str() {
            "$and" => Filter::And(parse_list(value, &format!("{at}.$and"))?),
            "$or" => Filter::Or(parse_list(value, &format!("{at}.$or"))?),
            "$not" => Filter::Not(Box::new(parse_object(value, &format!("{at}.$not"))?)),
            op if op.starts_with('$') => {
                return Err(error(
                    at,
                    format!("unknown operator {op:?} (expected $and, $or, $not or a field name)"),
                ))
            }
            field => parse_field(field, value, &format!("{at}.{field}"))?,
        });
    }
    Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Filter::And(parts) })
}

fn parse_list(value: &Value, at: &str) -> Result<Vec<Filter>, FilterError> {
    let Value::Array(items) = value else {
        return Err(error(at, "expected an array of filters"));
    };
    if items.is_empty() {
        return Err(error(at, "expected at least one filter"));
    }
    items.iter().enumerate().map(|(i, item)| parse_object(item, &format!("{at}[{i}]"))).collect()
}

fn parse_field(field: &str, value: &Value, at: &str) -> Result<Filter, FilterError> {
    if field.is_empty() {
        return Err(error(at, "empty field name"));
    }
    let field_filter = |op| Filter::Field { path: field.to_string(), op };
    let Value::Object(ops) = value else {
        return Ok(field_filter(Op::Eq(scalar(value, at)?)));
    };
    if ops.is_empty() {
        return Err(error(at, "expected an operator such as {\"$eq\": …}"));
    }
    let mut parts = Vec::with_capacity(ops.len());
    for (op, arg) in ops {
        let at = format!("{at}.{op}");
        let op = match op.as_str() {
            "$eq" => Op::Eq(scalar(arg, &at)?),
            "$ne" => Op::Ne(scalar(arg, &at)?),
            "$gt" => Op::Gt(ordered(arg, &at)?),
            "$gte" => Op::Gte(ordered(arg, &at)?),
            "$lt" => Op::Lt(ordered(arg, &at)?),
            "$lte" => Op::Lte(ordered(arg, &at)?),
            "$in" => Op::In(list(arg, &at)?),
            "$nin" => Op::Nin(list(arg, &at)?),
            "$exists" => {
                Op::Exists(arg.as_bool().ok_or_else(|| error(&at, "expected true or false"))?)
            }
            other => return Err(error(&at, format!("unknown operator {other:?}"))),
        };
        parts.push(field_filter(op));
    }
    Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Filter::And(parts) })
}

/// Values compared for equality: anything but an object.
fn scalar(value: &Value, at: &str) -> Result<Value, FilterError> {
    match value {
        Value::Object(_) => Err(error(at, "expected a value to compare with, found an object")),
        other => Ok(other.clone()),
    }
}

fn ordered(value: &Value, at: &str) -> Result<Value, FilterError> {
    match value {
        Value::Number(_) | Value::String(_) => Ok(value.clone()),
        other => Err(error(at, format!("expected a number or a string, found {other}"))),
    }
}

fn list(value: &Value, at: &str) -> Result<Vec<Value>, FilterError> {
    let Value::Array(items) = value else {
        return Err(error(at, format!("expected an array, found {value}")));
    };
    items.iter().map(|v| scalar(v, at)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn check(filter: Value, record: Value) -> bool {
        Filter::parse(&filter).unwrap().matches(&meta(record))
    }

    #[test]
    fn each_operator_matches_as_documented() {
        let r = json!({"year": 2021, "lang": "en", "tags": "a", "draft": false, "author": {"name": "Ada"}});
        assert!(check(json!({"lang": "en"}), r.clone()));
        assert!(check(json!({"year": {"$eq": 2021.0}}), r.clone()));
        assert!(check(json!({"year": {"$gt": 2020, "$lte": 2021}}), r.clone()));
        assert!(!check(json!({"year": {"$lt": 2021}}), r.clone()));
        assert!(check(json!({"year": {"$gte": 2021}}), r.clone()));
        assert!(check(json!({"lang": {"$in": ["fr", "en"]}}), r.clone()));
        assert!(check(json!({"lang": {"$nin": ["fr"]}}), r.clone()));
        assert!(check(json!({"missing": {"$ne": 1}}), r.clone()), "$ne matches an absent field");
        assert!(check(json!({"missing": {"$nin": [1]}}), r.clone()));
        assert!(!check(json!({"missing": {"$eq": 1}}), r.clone()));
        assert!(check(
            json!({"missing": {"$exists": false}, "year": {"$exists": true}}),
            r.clone()
        ));
        assert!(check(json!({"author.name": "Ada"}), r.clone()));
        assert!(check(json!({"lang": {"$gt": "de"}}), r.clone()), "strings compare with strings");
        assert!(!check(json!({"lang": {"$gt": 3}}), r.clone()), "a string is not above a number");
        assert!(check(json!({"$or": [{"lang": "fr"}, {"draft": false}]}), r.clone()));
        assert!(!check(json!({"$and": [{"lang": "en"}, {"draft": true}]}), r.clone()));
        assert!(check(json!({"$not": {"lang": "fr"}}), r));
    }

    #[test]
    fn malformed_filters_say_where_and_why() {
        let cases = [
            (json!([1]), "filter", "expected an object"),
            (json!({}), "filter", "empty object"),
            (json!({"$xor": []}), "filter", "unknown operator \"$xor\""),
            (json!({"year": {"$between": [1, 2]}}), "filter.year.$between", "unknown operator"),
            (json!({"lang": {"$in": "en"}}), "filter.lang.$in", "expected an array"),
            (json!({"$and": []}), "filter.$and", "at least one"),
            (json!({"$or": [{"a": 1}, 3]}), "filter.$or[1]", "expected an object"),
            (json!({"year": {"$gt": [1]}}), "filter.year.$gt", "number or a string"),
            (json!({"draft": {"$exists": "yes"}}), "filter.draft.$exists", "true or false"),
            (json!({"year": {}}), "filter.year", "expected an operator"),
        ];
        for (filter, at, reason) in cases {
            let err = Filter::parse(&filter).unwrap_err();
            assert_eq!(err.at, at, "{filter}");
            assert!(err.reason.contains(reason), "{filter}: {}", err.reason);
        }
        assert!(Filter::parse_str("{oops").unwrap_err().reason.contains("not JSON"));
    }
}
