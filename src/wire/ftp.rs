//! FTP control lines that announce a data connection: PASV (227) and EPSV (229) replies from the
//! server, PORT and EPRT commands from the client (RFC 959, RFC 2428).

use std::net::IpAddr;

use crate::decode::Addr;

/// The endpoint a control line announces for the data connection: (address, port) of the side that
/// will accept it. `server` and `client` are the control connection's endpoints.
pub fn data_endpoint(
    line: &str,
    from_client: bool,
    server: Addr,
    client: Addr,
) -> Option<(Addr, u16)> {
    if from_client {
        let upper = line.get(..5)?.to_ascii_uppercase();
        if upper == "PORT " {
            let (addr, port) = six_numbers(&line[5..])?;
            return Some((addr.unwrap_or(client), port));
        }
        if upper == "EPRT " {
            return eprt(line[5..].trim()).map(|(a, p)| (a.unwrap_or(client), p));
        }
        return None;
    }
    if let Some(rest) = line.strip_prefix("227") {
        // "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)": the numbers may stand without parentheses.
        let start = rest.find(|c: char| c.is_ascii_digit())?;
        let (addr, port) = six_numbers(&rest[start..])?;
        return Some((addr.unwrap_or(server), port));
    }
    if let Some(rest) = line.strip_prefix("229") {
        // "229 Entering Extended Passive Mode (|||6446|)": any delimiter, the port between the last two.
        let open = rest.find('(')?;
        let close = rest[open..].find(')')? + open;
        let inner = &rest[open + 1..close];
        let d = inner.chars().next()?;
        let fields: Vec<&str> = inner.split(d).collect();
        let port: u16 = fields.get(3)?.trim().parse().ok()?;
        return (port != 0).then_some((server, port));
    }
    None
}

/// "h1,h2,h3,h4,p1,p2" (trailing text allowed) → (address unless 0.0.0.0, port).
fn six_numbers(text: &str) -> Option<(Option<Addr>, u16)> {
    let digits: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == ' ')
        .collect();
    let n: Vec<u8> = digits
        .split(',')
        .map(|x| x.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b, c, d, p1, p2] = n[..] else {
        return None;
    };
    let port = u16::from(p1) << 8 | u16::from(p2);
    if port == 0 {
        return None;
    }
    let addr = (a, b, c, d) != (0, 0, 0, 0);
    Some((addr.then(|| Addr::from_v4([a, b, c, d])), port))
}

/// "|1|132.235.1.2|6275|" or "|2|2001:db8::1|5282|".
fn eprt(text: &str) -> Option<(Option<Addr>, u16)> {
    let d = text.chars().next()?;
    let fields: Vec<&str> = text.split(d).collect();
    let addr: Option<IpAddr> = fields.get(2).and_then(|a| a.trim().parse().ok());
    let port: u16 = fields.get(3)?.trim().parse().ok()?;
    (port != 0).then_some((addr.map(Addr::from), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Addr {
        Addr::from(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn passive_and_active_announcements() {
        let (server, client) = (a("192.0.2.30"), a("192.0.2.101"));
        assert_eq!(
            data_endpoint(
                "227 Entering Passive Mode (192,0,2,30,195,80).",
                false,
                server,
                client
            ),
            Some((a("192.0.2.30"), 50000))
        );
        assert_eq!(
            data_endpoint("227 =0,0,0,0,4,1", false, server, client),
            Some((server, 1025))
        );
        assert_eq!(
            data_endpoint(
                "229 Entering Extended Passive Mode (|||6446|)",
                false,
                server,
                client
            ),
            Some((server, 6446))
        );
        assert_eq!(
            data_endpoint("PORT 192,0,2,101,200,10", true, server, client),
            Some((client, 51210))
        );
        assert_eq!(
            data_endpoint("port 192,0,2,101,200,10", true, server, client),
            Some((client, 51210))
        );
        assert_eq!(
            data_endpoint("EPRT |2|2001:db8::101|5282|", true, server, client),
            Some((a("2001:db8::101"), 5282))
        );
        assert_eq!(
            data_endpoint("EPRT !1!192.0.2.101!6275!", true, server, client),
            Some((client, 6275))
        );
        // Not announcements, or malformed ones.
        assert_eq!(
            data_endpoint("230 Login successful.", false, server, client),
            None
        );
        assert_eq!(
            data_endpoint(
                "227 Entering Passive Mode (192,0,2,30,999,1)",
                false,
                server,
                client
            ),
            None
        );
        assert_eq!(data_endpoint("229 (|||0|)", false, server, client), None);
        assert_eq!(data_endpoint("PORT 1,2,3", true, server, client), None);
        assert_eq!(
            data_endpoint("227 Entering Passive Mode", true, server, client),
            None
        );
    }
}
