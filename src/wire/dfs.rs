//! DFS referrals (MS-DFSC 2.2): the request (SMB1 TRANSACTION2 GET_DFS_REFERRAL parameters, SMB2
//! IOCTL FSCTL_DFS_GET_REFERRALS input) names the path a client resolves; the response lists the
//! targets. Evidence that a host serves or uses DFS.

use super::{slice, Cursor, Encoding, Error, Result, WireStr};

/// REQ_GET_DFS_REFERRAL: the path to resolve (`\\domain\share\...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub max_referral_level: u16,
    pub file_name: WireStr<'a>,
    /// REQ_GET_DFS_REFERRAL_EX only.
    pub site_name: Option<WireStr<'a>>,
}

impl<'a> Request<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Request<'a>> {
        let mut c = Cursor::new(b);
        let max_referral_level = c.u16()?;
        Ok(Request {
            max_referral_level,
            file_name: WireStr::until_nul(c.rest(), Encoding::Utf16),
            site_name: None,
        })
    }

    /// REQ_GET_DFS_REFERRAL_EX (FSCTL_DFS_GET_REFERRALS_EX).
    pub fn parse_ex(b: &'a [u8]) -> Result<Request<'a>> {
        let mut c = Cursor::new(b);
        let max_referral_level = c.u16()?;
        let flags = c.u16()?;
        let data_len = c.u32()? as usize;
        let data = c.bytes(data_len)?;
        let mut d = Cursor::new(data);
        let name_len = usize::from(d.u16()?);
        let file_name = WireStr::utf16(d.bytes(name_len)?);
        let site_name = if flags & 1 != 0 {
            let site_len = usize::from(d.u16()?);
            Some(WireStr::utf16(d.bytes(site_len)?))
        } else {
            None
        };
        Ok(Request {
            max_referral_level,
            file_name,
            site_name,
        })
    }
}

/// RESP_GET_DFS_REFERRAL.
#[derive(Clone, Copy, Debug)]
pub struct Response<'a> {
    pub path_consumed: u16,
    pub number_of_referrals: u16,
    pub header_flags: u32,
    /// The entries and the string area after them (entry offsets point into it).
    body: &'a [u8],
}

impl<'a> Response<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Response<'a>> {
        let mut c = Cursor::new(b);
        Ok(Response {
            path_consumed: c.u16()?,
            number_of_referrals: c.u16()?,
            header_flags: c.u32()?,
            body: c.rest(),
        })
    }

    /// The referral entries, at most `number_of_referrals`, each checked as it is reached.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            body: self.body,
            at: 0,
            left: self.number_of_referrals,
        }
    }
}

/// One referral entry (versions 1 to 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub version: u16,
    /// 0 = non-root targets, 1 = root targets.
    pub server_type: u16,
    pub flags: u16,
    /// The DFS path (v2–v4), or for a name-list referral (v3/v4 flag 0x0002) the domain or DC name.
    pub path: Option<WireStr<'a>>,
    /// The target (`\\server\share`): v1 share name, v2–v4 network address; for name lists the
    /// first expanded name.
    pub target: Option<WireStr<'a>>,
}

#[derive(Clone, Copy, Debug)]
pub struct Entries<'a> {
    body: &'a [u8],
    at: usize,
    left: u16,
}

impl<'a> Entries<'a> {
    fn entry(&self) -> Result<(Entry<'a>, usize)> {
        let b = self.body;
        let mut c = Cursor::at(b, self.at);
        let version = c.u16()?;
        let size = usize::from(c.u16()?);
        let server_type = c.u16()?;
        let flags = c.u16()?;
        if size < 8 {
            return Err(Error::Malformed("DFS referral entry size"));
        }
        let entry = slice(b, self.at, size)?;
        // Strings of v2–v4 are at offsets from the entry start, anywhere after it.
        let from_entry = b.get(self.at..).unwrap_or_default();
        let string_at = |field: usize| -> Result<Option<WireStr<'a>>> {
            let off = usize::from(super::le16(entry, field));
            if field + 2 > entry.len() || off == 0 {
                return Ok(None);
            }
            let s = from_entry.get(off..).ok_or(Error::Truncated {
                need: self.at + off,
            })?;
            Ok(Some(WireStr::until_nul(s, Encoding::Utf16)))
        };
        let (path, target) = match version {
            1 => (None, Some(WireStr::until_nul(&entry[8..], Encoding::Utf16))),
            2 => (string_at(16)?, string_at(20)?),
            // Name lists put the special name and the first expanded name at the same offsets.
            3 | 4 => (string_at(12)?, string_at(16)?),
            _ => (None, None),
        };
        Ok((
            Entry {
                version,
                server_type,
                flags,
                path,
                target,
            },
            size,
        ))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match self.entry() {
            Ok((e, size)) => {
                self.at += size;
                Some(Ok(e))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    #[test]
    fn request_names_the_path() {
        let mut b = 4u16.to_le_bytes().to_vec();
        b.extend(utf16z("\\contoso.local\\sysvol"));
        b.extend([0xaa; 3]);
        let r = Request::parse(&b).unwrap();
        assert_eq!(r.max_referral_level, 4);
        assert_eq!(r.file_name.decode(), "\\contoso.local\\sysvol");
        assert_eq!(Request::parse(&[4]), Err(Error::Truncated { need: 2 }));

        let name: Vec<u8> = "\\a\\b".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut ex = vec![4, 0, 0, 0];
        ex.extend((2 + name.len() as u32).to_le_bytes());
        ex.extend((name.len() as u16).to_le_bytes());
        ex.extend(&name);
        assert_eq!(Request::parse_ex(&ex).unwrap().file_name.decode(), "\\a\\b");
        ex[4] = 0xff;
        assert!(matches!(
            Request::parse_ex(&ex),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn response_entries_v3() {
        // Header, one v3 entry of 34 bytes, then the strings.
        let mut b = vec![0x2c, 0, 1, 0, 3, 0, 0, 0];
        let path = utf16z("\\dom\\share");
        let target = utf16z("\\srv\\share");
        let mut e = vec![3, 0, 34, 0, 1, 0, 0, 0, 0x2c, 1, 0, 0];
        e.extend(34u16.to_le_bytes()); // path
        e.extend(34u16.to_le_bytes()); // alternate path
        e.extend((34 + path.len() as u16).to_le_bytes()); // network address
        e.extend([0; 16]);
        b.extend(e);
        b.extend(&path);
        b.extend(&target);
        let r = Response::parse(&b).unwrap();
        let entries: Vec<Entry> = r.entries().map(Result::unwrap).collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].server_type, 1);
        assert_eq!(entries[0].path.unwrap().decode(), "\\dom\\share");
        assert_eq!(entries[0].target.unwrap().decode(), "\\srv\\share");
        // A count larger than the entries present ends with an error, not a loop.
        b[2] = 0xff;
        let r = Response::parse(&b).unwrap();
        let all: Vec<_> = r.entries().collect();
        assert!(all.len() <= 2 && all.last().unwrap().is_err());
        // A zero entry size cannot loop.
        b[10] = 0;
        assert!(Response::parse(&b)
            .unwrap()
            .entries()
            .next()
            .unwrap()
            .is_err());
    }
}
