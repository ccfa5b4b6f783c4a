//! Portable forms of a funnel graph: CSV (the seed's spreadsheet-friendly export) and JSON.
//! Both are canonical: rows sorted by key, so `export(import(export(t))) == export(t)`.
use crate::domain::funnel::{EdgeDraft, GraphDraft, NodeDraft};
use crate::domain::template::GraphFormat;
use serde::{Deserialize, Serialize};

const HEADER: [&str; 10] = ["record", "key", "type", "name", "config", "x", "y", "from", "to", "condition"];

/// A row that could not be read, by its line number in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

pub fn export(draft: &GraphDraft, format: GraphFormat) -> String {
    let draft = draft.clone().sorted();
    match format {
        GraphFormat::Json => serde_json::to_string_pretty(&draft).unwrap_or_default() + "\n",
        GraphFormat::Csv => export_csv(&draft),
    }
}

pub fn import(text: &str, format: GraphFormat) -> Result<GraphDraft, Vec<RowError>> {
    match format {
        GraphFormat::Json => serde_json::from_str::<GraphDraft>(text)
            .map_err(|e| vec![RowError { line: e.line() as u64, message: e.to_string() }])
            .and_then(|d| check_coordinates(&d).map(|()| d)),
        GraphFormat::Csv => import_csv(text),
    }
}

fn check_coordinates(d: &GraphDraft) -> Result<(), Vec<RowError>> {
    let bad: Vec<RowError> = d
        .nodes
        .iter()
        .filter(|n| !n.x.is_finite() || !n.y.is_finite())
        .map(|n| RowError { line: 0, message: format!("node {} has a position that is not a number", n.key) })
        .collect();
    if bad.is_empty() { Ok(()) } else { Err(bad) }
}

fn export_csv(draft: &GraphDraft) -> String {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let json = |v: &serde_json::Value| v.to_string();
    let rows = std::iter::once(HEADER.map(String::from).to_vec())
        .chain(draft.nodes.iter().map(|n| {
            vec![
                "node".into(),
                n.key.clone(),
                n.kind.clone(),
                n.name.clone(),
                json(&n.config),
                n.x.to_string(),
                n.y.to_string(),
                String::new(),
                String::new(),
                String::new(),
            ]
        }))
        .chain(draft.edges.iter().map(|e| {
            let mut row = vec![String::new(); 10];
            row[0] = "edge".into();
            row[7] = e.from.clone();
            row[8] = e.to.clone();
            row[9] = e.condition.as_ref().map(json).unwrap_or_default();
            row
        }));
    for row in rows {
        // Writing to memory cannot fail.
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn import_csv(text: &str) -> Result<GraphDraft, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let mut errors = Vec::new();
    match reader.headers() {
        Ok(h) if h.iter().map(str::trim).eq(HEADER) => {}
        Ok(_) => errors.push(RowError { line: 1, message: format!("the header must be: {}", HEADER.join(",")) }),
        Err(e) => errors.push(RowError { line: 1, message: e.to_string() }),
    }
    let mut draft = GraphDraft::default();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(RowError { line, message: e.to_string() });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        match read_row(&record) {
            Ok(Row::Node(n)) => draft.nodes.push(n),
            Ok(Row::Edge(e)) => draft.edges.push(e),
            Err(message) => errors.push(RowError { line, message }),
        }
    }
    if errors.is_empty() { Ok(draft) } else { Err(errors) }
}

enum Row {
    Node(NodeDraft),
    Edge(EdgeDraft),
}

fn read_row(r: &csv::StringRecord) -> Result<Row, String> {
    if r.len() != HEADER.len() {
        return Err(format!("expected {} columns, found {}", HEADER.len(), r.len()));
    }
    let field = |i: usize| r.get(i).unwrap_or("");
    let json = |i: usize, what: &str| {
        serde_json::from_str::<serde_json::Value>(field(i)).map_err(|e| format!("{what} is not valid JSON: {e}"))
    };
    let number = |i: usize, what: &str| match field(i).parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{what} '{}' is not a number", field(i))),
    };
    match field(0) {
        "node" => {
            if field(1).is_empty() {
                return Err("a node needs a key".into());
            }
            Ok(Row::Node(NodeDraft {
                key: field(1).into(),
                kind: field(2).into(),
                name: field(3).into(),
                config: json(4, "config")?,
                x: number(5, "x")?,
                y: number(6, "y")?,
            }))
        }
        "edge" => {
            if field(7).is_empty() || field(8).is_empty() {
                return Err("an edge needs 'from' and 'to'".into());
            }
            let condition = if field(9).is_empty() { None } else { Some(json(9, "condition")?) };
            Ok(Row::Edge(EdgeDraft { from: field(7).into(), to: field(8).into(), condition }))
        }
        other => Err(format!("record must be 'node' or 'edge', not '{other}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn sample() -> GraphDraft {
        GraphDraft {
            nodes: vec![
                NodeDraft { key: "N2".into(), kind: "sms_send".into(), name: "Text, \"quoted\"\nline".into(), config: json!({"body": "Hi {{contact.first_name}}"}), x: 10.5, y: -3.0 },
                NodeDraft { key: "N1".into(), kind: "stage".into(), name: "Invited".into(), config: json!({"stage_key": "invited"}), x: 0.0, y: 0.0 },
            ],
            edges: vec![EdgeDraft { from: "N1".into(), to: "N2".into(), condition: None }],
        }
    }

    #[test]
    fn csv_export_is_sorted_and_reads_back() {
        let text = export(&sample(), GraphFormat::Csv);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "record,key,type,name,config,x,y,from,to,condition");
        assert!(lines[1].starts_with("node,N1,stage,Invited,"), "{text}");
        assert_eq!(import(&text, GraphFormat::Csv).unwrap(), sample().sorted());
    }

    #[test]
    fn malformed_rows_are_refused_with_their_line_numbers() {
        let text = "record,key,type,name,config,x,y,from,to,condition\n\
                    node,N1,stage,Invited,{\"stage_key\":\"a\"},0,0,,,\n\
                    node,N2,sms_send,Text,{not json},0,0,,,\n\
                    edge,,,,,,,N1,,\n\
                    node,N3,wait,Wait,{},abc,0,,,\n\
                    vertex,N4,,,,,,,,\n\
                    node,N5,wait\n";
        let errors = import(text, GraphFormat::Csv).unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7], "{errors:?}");
        assert!(errors[0].message.starts_with("config is not valid JSON"));
        assert_eq!(errors[1].message, "an edge needs 'from' and 'to'");
        assert_eq!(errors[2].message, "x 'abc' is not a number");
        assert_eq!(errors[3].message, "record must be 'node' or 'edge', not 'vertex'");
        assert_eq!(errors[4].message, "expected 10 columns, found 3");
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let errors = import("a,b\n", GraphFormat::Csv).unwrap_err();
        assert_eq!(errors[0].line, 1);
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e9f64..1e9).prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn draft() -> impl Strategy<Value = GraphDraft> {
        let node = ("[A-Za-z0-9_]{1,6}", "[a-z_]{0,12}", ".{0,20}", json_value(), -1e6f64..1e6, -1e6f64..1e6)
            .prop_map(|(key, kind, name, config, x, y)| NodeDraft { key, kind, name, config, x, y });
        let edge = ("[A-Za-z0-9_]{1,6}", "[A-Za-z0-9_]{1,6}", prop::option::of(json_value()))
            .prop_map(|(from, to, condition)| EdgeDraft { from, to, condition });
        (prop::collection::vec(node, 0..8), prop::collection::vec(edge, 0..8))
            .prop_map(|(nodes, edges)| GraphDraft { nodes, edges })
    }

    proptest! {
        #[test]
        fn exports_round_trip_byte_for_byte(d in draft()) {
            for format in [GraphFormat::Csv, GraphFormat::Json] {
                let once = export(&d, format);
                let back = import(&once, format).map_err(|e| TestCaseError::fail(format!("{e:?}\n{once}")))?;
                prop_assert_eq!(&export(&back, format), &once);
            }
        }
    }
}
