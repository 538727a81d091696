//! Parser for the cluster membership CSV: `urn,cluster[,role]` (header required, any order,
//! other columns ignored; role defaults to feeder).

use super::csv_text::{Records, RowCheck, resolve, utf8_text};
use super::{FileError, MembershipRecord, Parsed, RowError};
use crate::cluster::MembershipRole;
use crate::ids::Urn;
use std::collections::HashMap;

pub fn parse(bytes: &[u8]) -> Result<Parsed<MembershipRecord>, FileError> {
    let text = utf8_text(bytes)?;
    let (mut records, header) = Records::new(text)?;
    let (req, opt) = resolve(&header, &[&["urn"], &["cluster", "cluster name"]], &[&["role"]])?;
    let (urn_col, cluster_col, role_col) = (&req[0], &req[1], &opt[0]);
    let mut parsed = Parsed::default();
    let mut first_seen: HashMap<Urn, u64> = HashMap::new();
    while let Some((line, record)) = records.next_record()? {
        parsed.rows_read += 1;
        let mut row = RowCheck::new(line, record);
        let raw_urn = row.raw(urn_col);
        let urn = match Urn::parse(raw_urn) {
            Ok(u) => Some(u),
            Err(e) => {
                row.fail(urn_col, raw_urn, e.to_string());
                None
            }
        };
        let cluster = row.text(cluster_col);
        if let Some(c) = &cluster
            && c.chars().count() > 200
        {
            row.fail(cluster_col, c, "a cluster name is at most 200 characters");
        }
        let role = match row.opt(role_col) {
            None => Some(MembershipRole::Feeder),
            Some(r) => {
                let parsed_role = MembershipRole::parse(r);
                if parsed_role.is_none()
                    && let Some(c) = role_col
                {
                    let codes: Vec<&str> = MembershipRole::ALL.iter().map(|r| r.code()).collect();
                    row.fail(c, r, format!("must be one of {}", codes.join(", ")));
                }
                parsed_role
            }
        };
        if let Some(u) = urn
            && let Some(first) = first_seen.get(&u)
        {
            row.errors.push(RowError {
                line,
                column: urn_col.name.clone(),
                value: raw_urn.to_string(),
                rule: format!("duplicate URN, first on line {first}: a school is in one cluster"),
            });
        }
        match (urn, cluster, role, row.errors.is_empty()) {
            (Some(urn), Some(cluster), Some(role), true) => {
                first_seen.insert(urn, line);
                parsed.rows.push(MembershipRecord {
                    line,
                    urn,
                    cluster,
                    role,
                });
            }
            _ => parsed.errors.append(&mut row.errors),
        }
    }
    if parsed.rows_read == 0 {
        return Err(FileError::NoRows);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_and_every_bad_one() {
        let csv = "urn,cluster,role\n120765,North,host\n120766,North,\n12076,South,feeder\n120767,,core\n120768,South,captain\n120765,South,feeder\n";
        let p = parse(csv.as_bytes()).unwrap();
        assert_eq!(p.rows_read, 6);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[1].role, MembershipRole::Feeder);
        let got: Vec<(u64, &str)> = p.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(got, vec![(4, "urn"), (5, "cluster"), (6, "role"), (7, "urn")]);
        assert!(p.errors[3].rule.contains("line 2"));
    }

    #[test]
    fn roles_blank_clusters_and_crlf_lines() {
        // (file, expected (line, urn, cluster, role) rows, expected (line, column) errors)
        type Row = (u64, u32, &'static str, MembershipRole);
        type Case = (&'static str, &'static [Row], &'static [(u64, &'static str)]);
        let cases: &[Case] = &[
            (
                "URN,Cluster\r\n120765,North\r\n\r\n120766, South \r\n",
                &[
                    (2, 120765, "North", MembershipRole::Feeder),
                    (4, 120766, "South", MembershipRole::Feeder),
                ],
                &[],
            ),
            (
                "cluster,notes,urn,role\n\"North, East\",\"two\nlines\",120765,host\n,,120766,core\n",
                &[(2, 120765, "North, East", MembershipRole::Host)],
                &[(4, "cluster")],
            ),
            ("urn,cluster\n120765,\"\"\n", &[], &[(2, "cluster")]),
        ];
        for (file, rows, errors) in cases {
            let p = parse(file.as_bytes()).unwrap();
            let got: Vec<Row> = p
                .rows
                .iter()
                .map(|r| {
                    (
                        r.line,
                        r.urn.get(),
                        rows.iter().find(|w| w.2 == r.cluster).map_or("?", |w| w.2),
                        r.role,
                    )
                })
                .collect();
            assert_eq!(&got, rows, "{file:?}");
            let got: Vec<(u64, &str)> = p.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
            assert_eq!(&got, errors, "{file:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
            let mut file = b"urn,cluster,role\n".to_vec();
            file.extend(bytes);
            let _ = parse(&file);
        }
    }

    #[test]
    fn malformed_files() {
        assert_eq!(parse(b""), Err(FileError::Empty));
        assert_eq!(parse(b"urn,cluster\n"), Err(FileError::NoRows));
        assert_eq!(
            parse(b"urn,name\n120765,x\n"),
            Err(FileError::MissingColumns {
                missing: vec!["cluster".into()]
            })
        );
        assert!(matches!(parse(b"\x00\x01\x02"), Err(FileError::Binary { .. })));
        // A short last line is a row error, not a panic.
        let p = parse(b"urn,cluster,role\r\n120765,North,host\r\n120766").unwrap();
        assert_eq!(
            (p.rows.len(), p.errors[0].line, p.errors[0].column.as_str()),
            (1, 3, "cluster")
        );
    }
}
