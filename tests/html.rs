//! `--format html` in a real browser: the page of the bundled domain capture loads in headless
//! Chromium with no console message (no script error, nothing the page's content policy blocked,
//! nothing fetched), its script runs, its charts are drawn, a screenshot of it is not blank; its
//! outline (sections, headings, table headers) matches a golden file; and hostile names from a
//! catalog file and a capture file name stay text.
//!
//! Chromium is `SVCSCOPE_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH
//! (`scripts/deps test` installs it). Without one the browser checks are skipped with a message,
//! unless `SVCSCOPE_REQUIRE_ALL` is set (as `scripts/test` does): then they fail.
//!
//! After an intended change of the page's structure, rewrite the outline with
//! `SVCSCOPE_BLESS=1 cargo test --test html`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn svcscope(args: &[&str]) -> (i32, String, String) {
    svcscope_testkit::run(env!("CARGO_BIN_EXE_svcscope"), &root(), args)
}

/// A temp dir of one test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let path =
            std::env::temp_dir().join(format!("svcscope-html-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The Chromium to run, or None (after saying so) when there is none and none is required.
fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("SVCSCOPE_CHROMIUM") {
        Some(p) => vec![PathBuf::from(p)],
        None => std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path)
                    .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
                    .collect()
            })
            .unwrap_or_default(),
    };
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    assert!(
        std::env::var_os("SVCSCOPE_REQUIRE_ALL").is_none(),
        "SVCSCOPE_REQUIRE_ALL is set and no Chromium was found (install it with `scripts/deps test`)"
    );
    eprintln!("skipped: Chromium is not installed (scripts/deps test installs it)");
    None
}

/// What a headless Chromium made of a page.
struct Browser {
    /// The DOM after the page's scripts ran.
    dom: String,
    /// Console messages (script errors, blocked loads, anything logged).
    console: Vec<String>,
}

/// Runs Chromium on `page` (with `query` after its address): `--dump-dom`, or a screenshot into
/// `png` when given.
fn browse(chromium: &Path, dir: &Dir, page: &Path, png: Option<&Path>, query: &str) -> Browser {
    browse_as(chromium, dir, page, png, query, &[])
}

/// [`browse`] a page's DOM with more Chromium flags.
fn browse_with(chromium: &Path, dir: &Dir, page: &Path, flags: &[&str]) -> Browser {
    browse_as(chromium, dir, page, None, "", flags)
}

fn browse_as(
    chromium: &Path,
    dir: &Dir,
    page: &Path,
    png: Option<&Path>,
    query: &str,
    flags: &[&str],
) -> Browser {
    let url = format!("file://{}{query}", page.display());
    let profile = dir.path(&format!(
        "profile-{}-{}",
        page.file_stem().unwrap().to_string_lossy(),
        query.len()
    ));
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(flags);
    match png {
        Some(p) => {
            cmd.arg(format!("--screenshot={}", p.display()))
                .arg("--window-size=1280,1600");
        }
        None => {
            cmd.arg("--dump-dom");
        }
    }
    cmd.arg(&url);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chromium failed ({}): {stderr}",
        out.status
    );
    Browser {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(String::from)
            .collect(),
    }
}

fn run_with_timeout(mut cmd: Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let start = std::time::Instant::now();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let (o, e) = (read(Box::new(stdout)), read(Box::new(stderr)));
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return std::process::Output {
                status,
                stdout: o.join().unwrap(),
                stderr: e.join().unwrap(),
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("chromium ran for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn html_of(args: &[&str]) -> String {
    let (code, out, err) = svcscope(args);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    out
}

/// The `<svg class="chart…">…</svg>` elements of a page.
fn charts(dom: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find("<svg class=\"chart") {
        let tail = &rest[at..];
        let end = tail.find("</svg>").expect("an svg element ends") + "</svg>".len();
        out.push(&tail[..end]);
        rest = &tail[end..];
    }
    out
}

/// The text between `open` (a tag's start, e.g. `<h2`) and the next `close`, tags inside removed.
fn texts(html: &str, open: &str, close: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(open) {
        let tail = &rest[at..];
        let Some(gt) = tail.find('>') else { break };
        let Some(end) = tail.find(close) else { break };
        let inner = &tail[gt + 1..end];
        let mut text = String::new();
        let mut in_tag = false;
        for c in inner.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        out.push(text);
        rest = &tail[end..];
    }
    out
}

/// The id of the element `tag` starts.
fn id_of(tag: &str) -> &str {
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    tag.split_once(" id=\"")
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap_or("")
}

/// The page's outline: sections, headings and table headers, one per line in page order.
fn outline(html: &str) -> String {
    let mut marks: Vec<(usize, String)> = Vec::new();
    for (tag, close) in [
        ("<h1", "</h1>"),
        ("<h2", "</h2>"),
        ("<h3", "</h3>"),
        ("<h4", "</h4>"),
    ] {
        let mut from = 0;
        for t in texts(html, tag, close) {
            let at = html[from..].find(tag).unwrap() + from;
            from = at + 1;
            marks.push((
                at,
                format!("{}{t}", "  ".repeat(tag[2..].parse::<usize>().unwrap() - 1)),
            ));
        }
    }
    let mut from = 0;
    while let Some(at) = html[from..].find("<section ") {
        let at = at + from;
        marks.push((at, format!("[section {}]", id_of(&html[at..]))));
        from = at + 1;
    }
    let mut from = 0;
    while let Some(at) = html[from..].find("<table ") {
        let at = at + from;
        let end = html[at..].find("</thead>").unwrap() + at;
        let id = id_of(&html[at..]);
        let headers = texts(&html[at..end], "<th", "</th>");
        marks.push((at, format!("      table {id}: {}", headers.join(" | "))));
        from = at + 1;
    }
    marks.sort();
    marks.into_iter().map(|(_, m)| m + "\n").collect()
}

fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("SVCSCOPE_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with SVCSCOPE_BLESS=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs (SVCSCOPE_BLESS=1 rewrites it):\n{}",
        path.display(),
        expected
            .lines()
            .zip(actual.lines())
            .filter(|(e, a)| e != a)
            .take(10)
            .map(|(e, a)| format!("- {e}\n+ {a}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The structure of the domain capture's page, without a browser: what a reader finds where.
#[test]
fn the_domain_page_has_its_outline_and_stays_small() {
    let page = html_of(&[
        "analyze",
        "--format",
        "html",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..100]);
    assert!(page.len() < 1 << 20, "{} bytes", page.len());
    golden("domain.pcapng.html-outline.txt", &outline(&page));
    // Self-contained: nothing refers to anything outside the page.
    for needle in ["http://", "https://", "src=", "@import", "url("] {
        let outside = page
            .match_indices(needle)
            .filter(|(i, _)| !page[..*i].ends_with("xmlns=\""))
            .count();
        assert_eq!(outside, 0, "{needle} in the page");
    }
    // The answer: a service from evidence, one by port only, and a shared port not determined,
    // each with its server; names where Kerberos told them.
    let answer = &page[page.find("id=\"answer\"").unwrap()..page.find("id=\"charts\"").unwrap()];
    assert!(
        answer.contains("192.0.2.10 (dc01.corp.example)"),
        "{answer}"
    );
    for basis in ["b-evidence", "b-port", "b-undetermined"] {
        assert!(answer.contains(basis), "{basis}");
    }
    assert!(
        answer.contains("pipe-bind spoolss; spoolss pipe"),
        "{answer}"
    );
    assert!(answer
        .contains("not determined (2 candidates: DHCP Server, Internet Connection Firewall (ICF)"));
    // Links: a service to its section, a service to its servers, a server to its section.
    assert!(page.contains("<a href=\"#svc-0\">"));
    assert!(page.contains("<tr id=\"svc-0\""));
    assert!(page.contains("<a href=\"#host-192-0-2-10\">"));
    assert!(page.contains(
        "<section class=\"host\" id=\"host-192-0-2-10\" data-f=\"1\" data-host=\"192.0.2.10 (dc01.corp.example)\">"
    ));
    // The host's firewall draft and role.
    let dc = &page[page.find("id=\"host-192-0-2-10\"").unwrap()..];
    let dc = &dc[..dc.find("</section>").unwrap()];
    assert!(dc.contains("New-NetFirewallRule"), "{dc}");
    assert!(dc.contains("<b>domain controller</b>"), "{dc}");
    assert!(dc.contains("Authentication seen:"), "{dc}");
    // The charts: bars, two heat maps, the time series and two distributions.
    assert_eq!(charts(&page).len(), 6, "{}", charts(&page).len());
}

/// The page in a browser: no console message, the script ran, every chart drawn, a screenshot
/// with something on it.
#[test]
fn the_domain_page_loads_in_chromium_without_errors_and_draws_its_charts() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = Dir::new("domain");
    let page = dir.path("domain.html");
    std::fs::write(
        &page,
        html_of(&[
            "analyze",
            "--format",
            "html",
            "-q",
            "fixtures/domain.pcapng",
        ]),
    )
    .unwrap();
    let b = browse(&chromium, &dir, &page, None, "");
    assert!(b.console.is_empty(), "console: {:#?}", b.console);
    // The script filled in the row count: it ran to its end.
    let count = texts(&b.dom, "<span id=\"f-count\"", "</span>");
    assert!(
        count.len() == 1 && count[0].ends_with(" rows shown") && !count[0].starts_with("0 "),
        "{count:?}"
    );
    let svgs = charts(&b.dom);
    assert_eq!(svgs.len(), 6);
    for svg in &svgs {
        let marks = svg.matches("<rect").count() + svg.matches("<path").count();
        assert!(marks >= 2, "an empty chart: {svg}");
    }
    // The screenshot is an image with something on it: many colours, mostly not the background.
    let png = dir.path("domain.png");
    let shot = browse(&chromium, &dir, &page, Some(&png), "");
    assert!(shot.console.is_empty(), "console: {:#?}", shot.console);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(info.width >= 1000 && info.height >= 1000, "{info:?}");
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    assert!(colours.len() > 16, "{} colours", colours.len());
    let background = pixels[0];
    let other = pixels.iter().filter(|p| **p != background).count();
    assert!(
        other * 20 > pixels.len(),
        "{other} of {} pixels drawn",
        pixels.len()
    );
}

/// The filters, given in the page's address as a link can: rows and host sections of other hosts
/// and services are hidden, the others shown, and the row count says how many.
#[test]
fn filters_from_the_address_hide_other_hosts_and_services() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = Dir::new("filters");
    let page = dir.path("domain.html");
    std::fs::write(
        &page,
        html_of(&[
            "analyze",
            "--format",
            "html",
            "-q",
            "fixtures/domain.pcapng",
        ]),
    )
    .unwrap();
    let all = browse(&chromium, &dir, &page, None, "");
    let filtered = browse(
        &chromium,
        &dir,
        &page,
        None,
        "?host=192.0.2.20&service=spooler",
    );
    assert!(filtered.console.is_empty(), "{:#?}", filtered.console);
    let shown = |b: &Browser| {
        let t = texts(&b.dom, "<span id=\"f-count\"", "</span>").remove(0);
        t.split(' ').next().unwrap().parse::<usize>().unwrap()
    };
    assert!(
        shown(&filtered) >= 2 && shown(&filtered) < shown(&all) / 10,
        "{} of {}",
        shown(&filtered),
        shown(&all)
    );
    // The answer's Print Spooler row on fs01 is shown, its Server row and dc01's rows hidden.
    let answer = &filtered.dom[filtered.dom.find("id=\"answer-table\"").unwrap()..];
    let answer = &answer[..answer.find("</table>").unwrap()];
    let (mut kept, mut left_out) = (0, 0);
    for row in answer.split("<tr").skip(2) {
        let hidden = row.contains(" hidden=\"\"");
        if hidden {
            left_out += 1;
        } else {
            kept += 1;
        }
        let wanted = row.contains("data-host=\"192.0.2.20")
            && row.contains("data-service=\"Print Spooler\"");
        assert_eq!(hidden, !wanted, "{row}");
    }
    assert_eq!(kept, 1);
    assert!(left_out > 15, "{left_out}");
    assert!(filtered.dom.contains("id=\"host-192-0-2-10\" data-f=\"1\" data-host=\"192.0.2.10 (dc01.corp.example)\" hidden=\"\""));
    assert!(filtered.dom.contains(
        "id=\"host-192-0-2-20\" data-f=\"1\" data-host=\"192.0.2.20 (fs01.corp.example)\">"
    ));
}

/// A harness page that loads the report in a frame, clicks column headers of its services table
/// and writes the order of the cells into `<pre id="out">`, one line per click.
const SORT_HARNESS: &str = r#"<!DOCTYPE html><html><body><pre id="out">not run</pre><iframe id="f" src="domain.html"></iframe><script>
document.getElementById('f').addEventListener('load', function(){
  var out=[];
  try {
    var t=this.contentDocument.getElementById('services-table');
    var col=function(i){return Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.cells[i].getAttribute('data-v')||r.cells[i].textContent;}).join('|');};
    var th=t.tHead.rows[0].cells;
    th[4].click(); out.push(col(4)); th[4].click(); out.push(col(4)); th[0].click(); out.push(col(0));
  } catch(e) { out.push('error: '+e); }
  document.getElementById('out').textContent=out.join('\n');
});
</script></body></html>"#;

/// Sorting: a click on a number column orders its rows by value, a second click reverses them, a
/// click on a text column orders them alphabetically.
#[test]
fn table_headers_sort_numbers_as_numbers_and_text_as_text() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = Dir::new("sort");
    std::fs::write(
        dir.path("domain.html"),
        html_of(&[
            "analyze",
            "--format",
            "html",
            "-q",
            "fixtures/domain.pcapng",
        ]),
    )
    .unwrap();
    let harness = dir.path("harness.html");
    std::fs::write(&harness, SORT_HARNESS).unwrap();
    // The frame's document is readable from the harness only with file access between files.
    let b = browse_with(
        &chromium,
        &dir,
        &harness,
        &["--allow-file-access-from-files"],
    );
    assert!(b.console.is_empty(), "{:#?}", b.console);
    let out = texts(&b.dom, "<pre id=\"out\"", "</pre>").remove(0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let numbers = |l: &str| -> Vec<u64> { l.split('|').map(|v| v.parse().unwrap()).collect() };
    let up = numbers(lines[0]);
    let mut sorted = up.clone();
    sorted.sort();
    assert!(
        up.len() > 5 && up == sorted && up[0] < up[up.len() - 1],
        "{up:?}"
    );
    let down = numbers(lines[1]);
    assert_eq!(down, up.iter().rev().copied().collect::<Vec<_>>());
    let names: Vec<&str> = lines[2].split('|').collect();
    let mut alphabetical = names.clone();
    alphabetical.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, alphabetical);
}

/// Names svcscope does not control: a catalog file's service, system, protocol and interface
/// names, and a capture file's name. None opens an element, an attribute or a script.
const HOSTILE: [&str; 4] = [
    "<script>document.title='pwned'</script>",
    "</style><b id=\"pwned-style\">x</b>",
    "\"><img id=\"pwned-attr\" src=x onerror=\"document.title='pwned'\">",
    "'><svg id=\"pwned-svg\" onload=\"document.title='pwned'\"></svg>",
];

fn hostile_catalog() -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    format!(
        "[[service]]\nname = {}\nsystem = {}\nports = [ {{ app = {}, tcp = 88 }} ]\n\n\
         [[interface]]\nuuid = \"12345678-1234-abcd-ef00-01234567cffb\"\nname = {}\nprotocol = \"MS-NRPC\"\ntitle = \"x\"\nservices = [\"Net Logon\"]\n\n\
         [[service]]\nname = {}\nports = [ {{ app = {}, tcp = 389 }} ]\n",
        q(HOSTILE[0]),
        q(HOSTILE[1]),
        q(HOSTILE[2]),
        q(HOSTILE[3]),
        q(HOSTILE[1]),
        q(HOSTILE[0]),
    )
}

fn hostile_page(dir: &Dir, command: &str) -> PathBuf {
    let catalog = dir.path("hostile.toml");
    std::fs::write(&catalog, hostile_catalog()).unwrap();
    // A capture whose file name is markup too.
    let capture = dir.path("<img id=\"pwned-file\" src=x onerror=alert(1)>.pcapng");
    std::fs::copy(root().join("fixtures/domain.pcapng"), &capture).unwrap();
    let page = html_of(&[
        "--catalog",
        catalog.to_str().unwrap(),
        command,
        "--format",
        "html",
        "-q",
        capture.to_str().unwrap(),
    ]);
    // Each name is there, as text.
    for name in HOSTILE {
        let escaped = name
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            page.contains(&escaped)
                || page.contains(&escaped.replace('"', "&quot;").replace('\'', "&#39;")),
            "{name} is not in the page as text"
        );
    }
    assert!(page.contains("&lt;img id=\"pwned-file\""), "the file name");
    // Exactly the page's own script, style and svg elements.
    assert_eq!(page.matches("<script").count(), 1);
    assert_eq!(page.matches("</style").count(), 1);
    assert!(!page.contains("<img"));
    assert!(!page.contains("<b id=\"pwned"));
    assert!(!page.contains("<svg id="));
    let path = dir.path(&format!("{command}.html"));
    std::fs::write(&path, page).unwrap();
    path
}

/// Without a browser: the hostile names are text in the analyze and hosts pages.
#[test]
fn hostile_names_stay_text() {
    let dir = Dir::new("hostile-text");
    hostile_page(&dir, "analyze");
    hostile_page(&dir, "hosts");
}

/// In a browser: no element of theirs exists, no script of theirs ran, the page's own did.
#[test]
fn hostile_names_run_nothing_in_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = Dir::new("hostile-browser");
    for command in ["analyze", "hosts"] {
        let page = hostile_page(&dir, command);
        let b = browse(&chromium, &dir, &page, None, "");
        assert!(b.console.is_empty(), "{command}: console: {:#?}", b.console);
        // The document's title (the first; charts have titles of their own).
        let title = texts(&b.dom, "<title", "</title>").remove(0);
        assert!(
            title.starts_with("svcscope report — ") && title.ends_with(".pcapng"),
            "{command}: {title:?}"
        );
        // An element of theirs would be serialised as one; their text has `<` as `&lt;`, and
        // attribute values have `"` as `&quot;`.
        for element in [
            "<b id=\"pwned-style\"",
            "<img id=\"pwned-attr\"",
            "<svg id=\"pwned-svg\"",
            "<img id=\"pwned-file\"",
        ] {
            assert!(
                !b.dom.contains(element),
                "{command}: {element} is an element"
            );
        }
        assert!(
            b.dom.contains("&lt;b id=\"pwned-style\"&gt;"),
            "{command}: the name as text"
        );
        assert!(texts(&b.dom, "<span id=\"f-count\"", "</span>")[0].ends_with("rows shown"));
    }
}

/// The same page for hosts and a live capture's final report comes from the same renderer; hosts
/// narrowed to one network still has the services and its host sections.
#[test]
fn the_hosts_page_narrowed_to_a_network() {
    let page = html_of(&[
        "hosts",
        "--format",
        "html",
        "-q",
        "--net",
        "192.0.2.10/32",
        "fixtures/domain.pcapng",
    ]);
    assert!(page.contains("id=\"host-192-0-2-10\""));
    assert!(
        !page.contains("id=\"host-192-0-2-20\""),
        "only the host asked for"
    );
    assert!(
        page.contains("<tr id=\"svc-0\""),
        "the services of the whole capture"
    );
}

/// Commands that list no traffic have no page.
#[test]
fn catalog_and_interfaces_refuse_html() {
    for args in [
        &["catalog", "--format", "html"][..],
        &["interfaces", "--format", "html"],
    ] {
        let (code, out, err) = svcscope(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(
            err.contains("--format html is for analyze, hosts and capture"),
            "{err}"
        );
    }
}
