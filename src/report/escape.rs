//! Escaping for every place text from outside svcscope (catalog files, capture file names, interface
//! names) reaches a reader that could take it for something else: a terminal (escape sequences), a
//! spreadsheet (formulas), a PowerShell, cmd or nftables script (a new command, an unquoted argument),
//! or a comment line in one (a line break that ends the comment).
//!
//! The rules, one function each:
//!
//! - [`terminal`] and [`comment_text`]: control characters (C0, DEL, C1), the Unicode line and
//!   paragraph separators and the bidirectional formatting controls are written visibly: `\n`, `\r`,
//!   `\t`, `\x1b`, `\u{9b}`, `\u{202e}`. Nothing else changes.
//! - [`csv_cell`]: RFC 4180 quoting, and the OWASP rule for formulas: a cell that begins with `=`, `+`,
//!   `-`, `@`, TAB or CR gets a `'` in front and is quoted.
//! - [`powershell_single_quoted`]: `'…'` with each of the five characters PowerShell takes for a single
//!   quote (`'` and U+2018, U+2019, U+201A, U+201B) doubled. [`powershell_string`] is what scripts use:
//!   text that is not ASCII becomes a concatenation of ASCII-only single-quoted pieces and
//!   `[char]0xHHHH` code units, so that Windows PowerShell 5.1 — which reads a script without a byte-order
//!   mark in the ANSI code page, where the UTF-8 bytes of `Ē` read as `Ä’` — sees the same string.
//! - [`cmd_arg`] and [`cmd_comment`]: for cmd.exe (`netsh` commands, `.cmd` files) a double-quoted
//!   argument, with `"` replaced by `'` (cmd has no escape inside quotes), `%` and `!` replaced by their
//!   full-width forms `％` `！` (variable expansion happens inside quotes, and differently in scripts and
//!   at the prompt: no escape works in both), and trailing backslashes doubled (so a program's
//!   argument parser does not read `\"` as a quote).
//! - [`nft_string`]: an nftables quoted string: no `"` (nft has no escape for it; it becomes `'`), and at
//!   most a given number of bytes (nft comments hold 128).
//!
//! - [`html_text`] and [`html_attr`]: HTML element content and double-quoted attribute values:
//!   `&`, `<` and `>` become character references (and in attributes `"` and `'` too), so no name
//!   opens a tag, ends a `<style>` or `<script>`, or leaves its attribute; control characters are
//!   made visible as for a terminal. svcscope never writes outside text into a script, a style sheet,
//!   a URL or an unquoted attribute.
//!
//! Control characters in arguments are written visibly too, so every line of a script is one command.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for the characters that never reach a terminal, script or comment as they are: C0 controls,
/// DEL, C1 controls, U+2028/U+2029 (line and paragraph separators) and the bidirectional formatting
/// controls (which reorder what a reader sees).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `text` with every [`is_unsafe`] character written visibly (`\n`, `\x1b`, `\u{202e}`); borrowed
/// when there is none.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a terminal: names and paths with control characters made visible, so no escape sequence
/// or line break of theirs reaches the terminal.
pub fn terminal(text: &str) -> Cow<'_, str> {
    visible(text)
}

/// Text for a comment line (`#` in PowerShell and nftables): nothing in it can end the line.
pub fn comment_text(text: &str) -> Cow<'_, str> {
    visible(text)
}

/// True when a spreadsheet would take a cell beginning with this character for a formula.
fn formula_start(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// One CSV cell: quoted when it holds a comma, quote or line break (RFC 4180), and neutralised when a
/// spreadsheet would read it as a formula (it begins with `=`, `+`, `-`, `@`, TAB or CR: a `'` goes in
/// front and the cell is quoted). The numbers svcscope writes are never negative, so this applies to
/// every cell.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    let formula = text.chars().next().is_some_and(formula_start);
    if !formula && !text.contains([',', '"', '\n', '\r']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 4);
    out.push('"');
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    Cow::Owned(out)
}

/// The characters PowerShell takes for a single quote: `'`, U+2018, U+2019, U+201A, U+201B.
pub fn is_powershell_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}')
}

/// A PowerShell single-quoted string: every single-quote character doubled (inside `'…'` a doubled
/// quote is one literal quote, whichever of the five it is), control characters made visible (a
/// single-quoted string may span lines; a script line must stay one command).
pub fn powershell_single_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if is_unsafe(c) {
            push_visible(&mut out, c);
        } else {
            if is_powershell_single_quote(c) {
                out.push(c);
            }
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A PowerShell string expression in ASCII: a single-quoted string when `text` is ASCII, else a
/// parenthesised concatenation of single-quoted ASCII pieces and `[char]0xHHHH` UTF-16 code units,
/// starting with a string so that `+` concatenates: `('Caf' + [char]0x00e9)`. Control characters are
/// made visible as in [`powershell_single_quoted`].
pub fn powershell_string(text: &str) -> String {
    let text = visible(text);
    if text.is_ascii() {
        return powershell_single_quoted(&text);
    }
    let mut parts: Vec<String> = Vec::new();
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii() {
            run.push(c);
            continue;
        }
        if !run.is_empty() || parts.is_empty() {
            parts.push(powershell_single_quoted(&run));
            run.clear();
        }
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            parts.push(format!("[char]0x{u:04x}"));
        }
    }
    if !run.is_empty() {
        parts.push(powershell_single_quoted(&run));
    }
    format!("({})", parts.join(" + "))
}

/// Replaces the characters cmd.exe expands even inside double quotes (`%` always, `!` under delayed
/// expansion) with their full-width forms, and makes control characters visible.
fn cmd_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '%' => out.push('\u{ff05}'),
            '!' => out.push('\u{ff01}'),
            c if is_unsafe(c) => push_visible(out, c),
            c => out.push(c),
        }
    }
}

/// A double-quoted argument for a cmd.exe command line (`netsh … name="…"`): inside the quotes cmd
/// treats `&`, `|`, `<`, `>`, `^` and `(` `)` as text, so only what could end the quotes or expand is
/// changed: `"` becomes `'`, `%` and `!` their full-width forms, control characters are made visible,
/// and a trailing run of backslashes is doubled (the C runtime's argument parser reads `\"` as a
/// quote, and `\\"` as a backslash and the end of the argument).
pub fn cmd_arg(text: &str) -> String {
    let mut inner = String::with_capacity(text.len() + 2);
    cmd_text(&text.replace('"', "'"), &mut inner);
    let trailing = inner.len() - inner.trim_end_matches('\\').len();
    let mut out = String::with_capacity(inner.len() + trailing + 2);
    out.push('"');
    out.push_str(&inner);
    out.push_str(&"\\".repeat(trailing));
    out.push('"');
    out
}

/// Text for a cmd.exe `REM` line: control characters made visible (no line break), `%` and `!`
/// replaced as in [`cmd_arg`] (percent expansion runs on `REM` lines too, and a bad `%~` stops a
/// script). `REM` ignores `&`, `|`, `<`, `>` and a caret after its first word.
pub fn cmd_comment(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '%' || c == '!' || is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    cmd_text(text, &mut out);
    Cow::Owned(out)
}

/// An nftables quoted string of at most `max` bytes between the quotes: `"` becomes `'` (nft strings
/// have no escapes), control characters are made visible, and longer text is cut at a character
/// boundary and ends with `...`.
pub fn nft_string(text: &str, max: usize) -> String {
    let mut s = visible(&text.replace('"', "'")).into_owned();
    if s.len() > max {
        let mut cut = max.saturating_sub(3);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    format!("\"{s}\"")
}

fn html(text: &str, attr: bool) -> Cow<'_, str> {
    let special = |c: char| matches!(c, '&' | '<' | '>') || (attr && matches!(c, '"' | '\''));
    if !text.chars().any(|c| special(c) || is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\'' if attr => out.push_str("&#39;"),
            c if is_unsafe(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text for HTML element content (also inside SVG `<text>` and `<title>`): `&`, `<` and `>` as
/// character references, control characters made visible.
pub fn html_text(text: &str) -> Cow<'_, str> {
    html(text, false)
}

/// Text for a double-quoted HTML or SVG attribute value: as [`html_text`], and `"` and `'` as
/// character references too.
pub fn html_attr(text: &str) -> Cow<'_, str> {
    html(text, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_text_shows_control_characters() {
        assert_eq!(terminal("plain — ok"), "plain — ok");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(terminal("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(
            terminal("\x1b[2J\x1b]0;title\x07"),
            "\\x1b[2J\\x1b]0;title\\x07"
        );
        assert_eq!(terminal("del\x7f c1\u{9b}31m"), "del\\x7f c1\\u{9b}31m");
        assert_eq!(terminal("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(comment_text("x\u{2028}y"), "x\\u{2028}y");
    }

    #[test]
    fn csv_cells_that_would_be_formulas_are_neutralised() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+2"), "\"'=1+2\"");
        assert_eq!(csv_cell("+1"), "\"'+1\"");
        assert_eq!(csv_cell("-2+3"), "\"'-2+3\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_cell("\tx"), "\"'\tx\"");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        // Not at the start: not a formula.
        assert_eq!(csv_cell("a=b"), "a=b");
        assert_eq!(csv_cell("2024-03-04T09:00:00Z"), "2024-03-04T09:00:00Z");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn powershell_quotes_every_single_quote_character() {
        assert_eq!(powershell_single_quoted("plain"), "'plain'");
        assert_eq!(powershell_single_quoted("it's"), "'it''s'");
        assert_eq!(
            powershell_single_quoted("\u{2018}\u{2019}\u{201a}\u{201b}"),
            "'\u{2018}\u{2018}\u{2019}\u{2019}\u{201a}\u{201a}\u{201b}\u{201b}'"
        );
        assert_eq!(
            powershell_single_quoted("a\nStart-Process calc.exe"),
            "'a\\nStart-Process calc.exe'"
        );
        assert_eq!(
            powershell_single_quoted("$(calc) `n \"x\" ;"),
            "'$(calc) `n \"x\" ;'"
        );
    }

    #[test]
    fn powershell_strings_are_ascii() {
        assert_eq!(powershell_string("it's"), "'it''s'");
        assert_eq!(powershell_string("Caf\u{e9}"), "('Caf' + [char]0x00e9)");
        assert_eq!(
            powershell_string("\u{2019}; calc; \u{2019}"),
            "('' + [char]0x2019 + '; calc; ' + [char]0x2019)"
        );
        assert_eq!(
            powershell_string("\u{1f600}"),
            "('' + [char]0xd83d + [char]0xde00)"
        );
        assert_eq!(powershell_string("a\u{202e}b"), "'a\\u{202e}b'");
    }

    #[test]
    fn cmd_arguments_cannot_expand_or_end_early() {
        assert_eq!(cmd_arg("plain"), "\"plain\"");
        assert_eq!(cmd_arg("a\" & calc.exe & \""), "\"a' & calc.exe & '\"");
        assert_eq!(
            cmd_arg("%PATH% !x!"),
            "\"\u{ff05}PATH\u{ff05} \u{ff01}x\u{ff01}\""
        );
        assert_eq!(cmd_arg("a\n& calc.exe"), "\"a\\n& calc.exe\"");
        assert_eq!(cmd_arg("dir\\"), "\"dir\\\\\"");
        assert_eq!(cmd_arg("a\\b"), "\"a\\b\"");
        assert_eq!(cmd_comment("100% ^ & | <x>"), "100\u{ff05} ^ & | <x>");
        assert_eq!(cmd_comment("a\r\nb"), "a\\r\\nb");
    }

    #[test]
    fn nft_strings_have_no_quotes_and_fit() {
        assert_eq!(nft_string("PPTP (TCP 1723)", 120), "\"PPTP (TCP 1723)\"");
        assert_eq!(nft_string("a\"b", 120), "\"a'b\"");
        assert_eq!(nft_string("a\nflush ruleset", 120), "\"a\\nflush ruleset\"");
        let long = nft_string(&"é".repeat(100), 120);
        assert!(long.len() <= 122 && long.ends_with("...\""), "{long}");
    }

    #[test]
    fn html_text_and_attributes_cannot_open_tags_or_leave_quotes() {
        assert!(matches!(html_text("Net Logon"), Cow::Borrowed(_)));
        assert_eq!(
            html_text("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            html_text("</style><b>&amp;"),
            "&lt;/style&gt;&lt;b&gt;&amp;amp;"
        );
        // Quotes are harmless in content and kept readable there.
        assert_eq!(html_text("it's \"x\""), "it's \"x\"");
        assert_eq!(
            html_attr("x\" onmouseover=\"alert(1)"),
            "x&quot; onmouseover=&quot;alert(1)"
        );
        assert_eq!(html_attr("a'b<c>&"), "a&#39;b&lt;c&gt;&amp;");
        assert_eq!(html_text("a\nb\u{202e}"), "a\\nb\\u{202e}");
        assert_eq!(html_attr("MSSQL$UDDI é"), "MSSQL$UDDI é");
    }

    /// Reads a PowerShell string expression as [`powershell_string`] writes it: `'…'`, or `( '…' +
    /// [char]0xHHHH + … )`. Returns the value, or None if the text is anything else.
    fn read_powershell(text: &str) -> Option<String> {
        fn quoted(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<String> {
            if !is_powershell_single_quote(chars.next()?) {
                return None;
            }
            let mut value = String::new();
            loop {
                let c = chars.next()?;
                if is_powershell_single_quote(c) {
                    if chars
                        .peek()
                        .copied()
                        .is_some_and(is_powershell_single_quote)
                    {
                        value.push(chars.next()?);
                    } else {
                        return Some(value);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        let mut chars = text.chars().peekable();
        if chars.peek() != Some(&'(') {
            let v = quoted(&mut chars)?;
            return chars.next().is_none().then_some(v);
        }
        chars.next();
        let mut units: Vec<u16> = Vec::new();
        loop {
            if chars.peek() == Some(&'[') {
                let code: String = chars.by_ref().take(12).collect();
                units.push(u16::from_str_radix(code.strip_prefix("[char]0x")?, 16).ok()?);
            } else {
                units.extend(quoted(&mut chars)?.encode_utf16());
            }
            match chars.next()? {
                ')' => break,
                ' ' if chars.next()? == '+' && chars.next()? == ' ' => {}
                _ => return None,
            }
        }
        chars
            .next()
            .is_none()
            .then(|| String::from_utf16(&units).ok())?
    }

    /// Reads one CSV cell as RFC 4180 writes it.
    fn read_csv_cell(text: &str) -> Option<String> {
        let Some(inner) = text.strip_prefix('"') else {
            return (!text.contains([',', '"', '\n', '\r'])).then(|| text.to_string());
        };
        let inner = inner.strip_suffix('"')?;
        let mut value = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '"' && chars.next()? != '"' {
                return None;
            }
            value.push(c);
        }
        Some(value)
    }

    proptest! {
        #![proptest_config(crate::testing::proptest_config(512))]

        #[test]
        fn terminal_and_comment_text_hold_no_control_character(s in any::<String>()) {
            prop_assert!(!terminal(&s).chars().any(is_unsafe));
            prop_assert!(!comment_text(&s).chars().any(is_unsafe));
            prop_assert!(!cmd_comment(&s).chars().any(|c| is_unsafe(c) || c == '%' || c == '!'));
        }

        #[test]
        fn csv_cells_parse_back_and_never_start_a_formula(s in any::<String>()) {
            let cell = csv_cell(&s);
            let value = read_csv_cell(&cell).expect("one RFC 4180 cell");
            prop_assert!(!value.chars().next().is_some_and(formula_start));
            let expected = if s.chars().next().is_some_and(formula_start) {
                format!("'{s}")
            } else {
                s.clone()
            };
            prop_assert_eq!(value, expected);
        }

        #[test]
        fn powershell_strings_read_back_as_one_ascii_token(s in any::<String>()) {
            let expr = powershell_string(&s);
            prop_assert!(expr.is_ascii(), "{}", expr);
            prop_assert!(!expr.chars().any(is_unsafe));
            prop_assert_eq!(read_powershell(&expr), Some(visible(&s).into_owned()));
            let quoted = powershell_single_quoted(&s);
            prop_assert_eq!(read_powershell(&quoted), Some(visible(&s).into_owned()));
        }

        #[test]
        fn cmd_arguments_are_one_quoted_token(s in any::<String>()) {
            let arg = cmd_arg(&s);
            let inner = &arg[1..arg.len() - 1];
            prop_assert!(arg.starts_with('"') && arg.ends_with('"') && arg.len() >= 2);
            prop_assert!(!inner.contains(['"', '%', '!']));
            prop_assert!(!arg.chars().any(is_unsafe));
            // An even run of backslashes before the closing quote: the quote ends the argument.
            let backslashes = inner.len() - inner.trim_end_matches('\\').len();
            prop_assert_eq!(backslashes % 2, 0);
        }

        #[test]
        fn html_escapes_leave_no_markup_and_read_back(s in any::<String>()) {
            let text = html_text(&s);
            let attr = html_attr(&s);
            prop_assert!(!text.contains(['<', '>']));
            prop_assert!(!attr.contains(['<', '>', '"', '\'']));
            prop_assert!(!attr.chars().any(is_unsafe));
            // Every '&' starts one of the references written, so a browser reads the text back.
            let back = attr
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            prop_assert_eq!(back, visible(&s).into_owned());
        }

        #[test]
        fn nft_strings_are_one_quoted_string_that_fits(s in any::<String>(), max in 3usize..200) {
            let q = nft_string(&s, max);
            prop_assert!(q.starts_with('"') && q.ends_with('"') && q.len() >= 2);
            prop_assert!(!q[1..q.len() - 1].contains('"'));
            prop_assert!(!q.chars().any(is_unsafe));
            prop_assert!(q.len() - 2 <= max.max(3), "{} bytes for max {}", q.len() - 2, max);
        }
    }
}
