//! The TLS parameters of a PostgreSQL connection string (`sslmode`, `sslrootcert`, `sslcert`,
//! `sslkey`), taken out of it: the store reads them like its options, and the driver, whose
//! parser knows only some of them and some of their values, gets the rest.
//!
//! Both forms libpq accepts are read: URLs (`postgres://…?sslmode=verify-full`, values
//! percent-encoded) and `key=value` strings (`host=h sslmode='verify-full'`).

/// The TLS parameters a connection string held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlTls {
    /// `sslmode`.
    pub(crate) sslmode: Option<String>,
    /// `sslrootcert`.
    pub(crate) sslrootcert: Option<String>,
    /// `sslcert`.
    pub(crate) sslcert: Option<String>,
    /// `sslkey`.
    pub(crate) sslkey: Option<String>,
}

impl UrlTls {
    fn take(&mut self, key: &str, value: String) -> bool {
        let slot = match key {
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "sslcert" => &mut self.sslcert,
            "sslkey" => &mut self.sslkey,
            _ => return false,
        };
        // As in libpq, the last occurrence wins.
        *slot = Some(value);
        true
    }
}

/// Splits `conninfo` into the string without its TLS parameters and those parameters. A string
/// this cannot read is returned whole, for the driver's parser to explain.
pub(crate) fn split(conninfo: &str) -> (String, UrlTls) {
    let parsed = if let Some(rest) = conninfo
        .strip_prefix("postgres://")
        .or_else(|| conninfo.strip_prefix("postgresql://"))
    {
        split_url(conninfo, rest)
    } else {
        split_key_values(conninfo)
    };
    parsed.unwrap_or_else(|| (conninfo.to_owned(), UrlTls::default()))
}

fn split_url(whole: &str, rest: &str) -> Option<(String, UrlTls)> {
    // As the driver reads it: credentials end at the first `@`, the query starts at the first
    // `?` after them.
    let after_credentials = rest.find('@').map_or(0, |at| at + 1);
    let Some(question) = rest[after_credentials..].find('?') else {
        return Some((whole.to_owned(), UrlTls::default()));
    };
    let query_start = whole.len() - rest.len() + after_credentials + question;
    let (head, query) = (&whole[..query_start], &whole[query_start + 1..]);
    let mut tls = UrlTls::default();
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=')?;
        if !tls.take(&percent_decode(key)?, percent_decode(value)?) {
            kept.push(pair);
        }
    }
    let url = if kept.is_empty() {
        head.to_owned()
    } else {
        format!("{head}?{}", kept.join("&"))
    };
    Some((url, tls))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `key = value` pairs separated by white space; values may be single-quoted, and `\` escapes
/// the next character (libpq's grammar, which the driver follows).
fn split_key_values(conninfo: &str) -> Option<(String, UrlTls)> {
    let mut tls = UrlTls::default();
    let mut kept = Vec::new();
    let mut chars = conninfo.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        chars.next_if(|(_, c)| *c == '=')?;
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next()? {
                    (_, '\'') => break,
                    (_, '\\') => value.push(chars.next()?.1),
                    (_, c) => value.push(c),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next()?.1);
                } else {
                    value.push(c);
                }
            }
        }
        let end = chars.peek().map_or(conninfo.len(), |&(i, _)| i);
        if !tls.take(&key, value) {
            kept.push(&conninfo[start..end]);
        }
    }
    Some((kept.join(" "), tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_tls_parameters_only() {
        let (url, tls) = split(
            "postgres://u:p%3Fw@h:5432/db?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        );
        assert_eq!(url, "postgres://u:p%3Fw@h:5432/db?application_name=x");
        assert_eq!(tls.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(tls.sslrootcert.as_deref(), Some("/etc/ca.pem"));

        let (url, tls) = split("postgresql://h/db?sslmode=require");
        assert_eq!(url, "postgresql://h/db");
        assert_eq!(tls.sslmode.as_deref(), Some("require"));

        // A `?` inside the credentials is not the query.
        let (url, tls) = split("postgres://u:a?b@h/db?sslcert=c.pem&sslkey=k.pem");
        assert_eq!(url, "postgres://u:a?b@h/db");
        assert_eq!(tls.sslcert.as_deref(), Some("c.pem"));
        assert_eq!(tls.sslkey.as_deref(), Some("k.pem"));

        let (url, tls) = split("postgres://h/db");
        assert_eq!((url.as_str(), tls), ("postgres://h/db", UrlTls::default()));
    }

    #[test]
    fn key_value_strings_lose_their_tls_parameters_only() {
        let (rest, tls) =
            split("host=h sslmode = 'verify-ca' user=u sslrootcert=/a\\ b.pem dbname=d");
        assert_eq!(rest, "host=h user=u dbname=d");
        assert_eq!(tls.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(tls.sslrootcert.as_deref(), Some("/a b.pem"));
        let (rest, tls) = split("sslmode=prefer");
        assert_eq!(
            (rest.as_str(), tls.sslmode.as_deref()),
            ("", Some("prefer"))
        );
    }

    #[test]
    fn unreadable_strings_are_left_to_the_driver() {
        for text in ["host='h", "postgres://h/db?sslmode=%zz", "host"] {
            let (rest, tls) = split(text);
            assert_eq!((rest.as_str(), tls), (text, UrlTls::default()));
        }
    }
}
