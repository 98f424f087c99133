//! `catalog`: the input as a user catalog file. No input may panic, and every error names the file
//! and line ("fuzz.toml:").
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcscope::catalog::{Catalog, RowFilter, Transport};

/// A small valid base catalog, so that `extend = true` and overrides have something to act on.
const BASE: &str = r#"
[dynamic_rpc]
ranges = [[49152, 65535]]

[[service]]
name = "Server"
system = "lanmanserver"
ports = [
  { app = "SMB", tcp = 445 },
  { app = "NetBIOS Datagram Service", udp = 138 },
]

[[service]]
name = "Local Security Authority"
system = "LSASS"
ports = [
  { app = "RPC", tcp = 135 },
  { app = "Randomly allocated high TCP ports", tcp = "dynamic" },
  { app = "GRE", ip = 47 },
]
"#;

fn check(catalog: Result<Catalog, svcscope::catalog::CatalogError>) {
    match catalog {
        Ok(c) => {
            for port in [0u16, 1, 135, 445, 65535] {
                if let Some(id) = c.lookup_port(Transport::Tcp, port) {
                    let l = c.label(id);
                    for &s in &l.services {
                        let _ = c.service(s);
                    }
                }
                let _ = c.lookup_port(Transport::Udp, port);
                let _ = c.is_dynamic_port(port);
            }
            for n in [0u8, 47, 50, 51, 255] {
                let _ = c.lookup_ip_protocol(n);
            }
            let _ = c.rpc_dynamic_label();
            assert_eq!(c.query(&RowFilter::default()).count(), c.rows.len());
            // Every pipe, share and protocol is found again by its key, and names real services.
            for n in &c.names {
                let id = c.name_id(n.kind, &n.name).expect("a name is found by its key");
                assert_eq!(c.name(id).name, n.name);
                for &s in &n.services {
                    let _ = c.service(s);
                }
            }
            // Names reach terminals, CSV and firewall scripts: no control character gets in.
            let texts = c
                .services
                .iter()
                .flat_map(|s| [Some(&s.name), s.system.as_ref(), s.note.as_ref()])
                .chain(c.rows.iter().flat_map(|r| [Some(&r.app), r.note.as_ref()]))
                .chain(c.interfaces.iter().flat_map(|i| {
                    [Some(&i.name), Some(&i.protocol), i.title.as_ref()]
                }))
                .chain(c.names.iter().flat_map(|n| {
                    [Some(&n.name), Some(&n.reference), n.note.as_ref()]
                }))
                .flatten();
            for t in texts {
                assert!(!t.chars().any(char::is_control), "control character in {t:?}");
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with("fuzz.toml:"),
                "error without the file: {msg}"
            );
            assert!(!msg.contains('\n'), "multi-line error: {msg}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(Catalog::from_sources(&[("fuzz.toml".into(), text.into())]));
    check(Catalog::from_sources(&[
        ("base.toml".into(), BASE.into()),
        ("fuzz.toml".into(), text.into()),
    ]));
});
