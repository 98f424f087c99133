//! `svcscope interfaces`: the capture devices as a table, JSON or CSV.

use crate::capture::InterfaceInfo;

use super::table::Table;

/// The devices as a JSON array (fields as in [`InterfaceInfo`]), newline-terminated.
pub fn json(list: &[InterfaceInfo]) -> String {
    serde_json::to_string_pretty(list).expect("interfaces serialize") + "\n"
}

/// One CSV line per device after a header line; addresses separated by spaces.
pub fn csv(list: &[InterfaceInfo]) -> String {
    let mut out = super::csv::line(&[
        "name",
        "description",
        "addresses",
        "up",
        "running",
        "loopback",
        "wireless",
    ]);
    for i in list {
        out.push_str(&super::csv::line(&[
            i.name.clone(),
            i.description.clone().unwrap_or_default(),
            i.addresses.join(" "),
            i.up.to_string(),
            i.running.to_string(),
            i.loopback.to_string(),
            i.wireless.to_string(),
        ]));
    }
    out
}

/// A table of name, flags (up, running, loopback, wireless), addresses and description.
pub fn table(list: &[InterfaceInfo]) -> String {
    let mut t = Table::new(&["INTERFACE", "FLAGS", "ADDRESSES", "DESCRIPTION"]);
    for i in list {
        let flags: Vec<&str> = [
            (i.up, "up"),
            (i.running, "running"),
            (i.loopback, "loopback"),
            (i.wireless, "wireless"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        t.row(vec![
            i.name.clone(),
            flags.join(","),
            i.addresses.join(" "),
            i.description.clone().unwrap_or_default(),
        ]);
    }
    t.render("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices() -> Vec<InterfaceInfo> {
        vec![
            InterfaceInfo {
                name: "lo".to_string(),
                description: None,
                addresses: vec!["127.0.0.1".to_string(), "::1".to_string()],
                up: true,
                running: true,
                loopback: true,
                wireless: false,
            },
            InterfaceInfo {
                name: "eth0".to_string(),
                description: Some("external, \"main\"".to_string()),
                addresses: Vec::new(),
                up: false,
                running: false,
                loopback: false,
                wireless: false,
            },
        ]
    }

    #[test]
    fn every_format_lists_every_device_with_its_flags() {
        let list = devices();
        let csv = csv(&list);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            [
                "name,description,addresses,up,running,loopback,wireless",
                "lo,,127.0.0.1 ::1,true,true,true,false",
                "eth0,\"external, \"\"main\"\"\",,false,false,false,false",
            ]
        );
        let table = table(&list);
        let lo = table
            .lines()
            .find(|l| l.starts_with("lo "))
            .expect("lo row");
        assert!(lo.contains("up,running,loopback") && lo.contains("127.0.0.1 ::1"));
        let eth0 = table
            .lines()
            .find(|l| l.starts_with("eth0"))
            .expect("eth0 row");
        assert!(!eth0.contains("up") && eth0.contains("external"));
        let json: serde_json::Value = serde_json::from_str(&json(&list)).unwrap();
        assert_eq!(json[0]["addresses"][1], "::1");
        assert_eq!(json[1]["description"], "external, \"main\"");
    }
}
