//! Plots drawn from a synthetic projection: three Gaussian blobs with hostile strings in every
//! text field. The PNG must decode and show each category's colour; the SVG must parse as XML
//! with its title, labels, legend and one mark per point; the HTML page must run in headless
//! Chromium without an error, report every point drawn, and show them in a screenshot.
//!
//! Chromium is Debian's `chromium` package at /usr/bin/chromium (`.ci/run` installs it). The
//! tests that need it fail, never skip, when it is missing. Set `KINDRED_KEEP_PLOTS` to a folder
//! to keep the drawn files and the screenshot there for a look.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kindred::viz::{
    render_html, render_svg, render_to_file, Legend, Plot, PlotPoint, RenderOptions, Rgb,
};

use crate::util::tempdir;

const CHROMIUM: &str = "/usr/bin/chromium";
/// A hung browser fails the test after this long instead of blocking the run.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);
const POINTS_PER_BLOB: usize = 150;
/// Pixels of a category's colour (or a tint of it) that only points, not a legend marker,
/// can add up to.
const MIN_CATEGORY_PIXELS: usize = 1000;

#[test]
fn png_decodes_to_the_requested_size_and_shows_every_category() {
    let plot = blobs();
    let dir = tempdir();
    let path = dir.path().join("blobs.png");
    render_to_file(&plot, &path, &RenderOptions::default()).expect("the PNG is drawn");
    keep(&path);
    let image = decode_png(&std::fs::read(&path).unwrap());
    assert_eq!((image.width, image.height), (1000, 750));
    assert_not_blank(&image);
    assert_categories_visible(&image, &plot, "the PNG");
}

#[test]
fn svg_parses_with_title_labels_legend_and_one_mark_per_point() {
    let plot = blobs();
    let svg = render_svg(&plot, &RenderOptions::default());
    keep_text("blobs.svg", &svg);
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|err| panic!("not XML: {err}"));
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text") || n.has_tag_name("title"))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect();
    for wanted in [&plot.title, &plot.x_label, &plot.y_label, &plot.legend_title] {
        assert!(texts.contains(wanted), "no text {wanted:?} in {texts:#?}");
    }
    for (name, count) in [("alpha <&> \"quoted\" 'x'", "150"), ("beta </script>", "150")] {
        assert!(texts.iter().any(|t| t == name), "no legend entry {name:?}");
        assert!(texts.iter().any(|t| t == count));
    }
    let long = texts.iter().find(|t| t.starts_with("gamma:")).expect("the third entry");
    assert!(long.contains('\u{2026}') && long.ends_with("at all"), "not cut short: {long:?}");
    for note in &plot.notes {
        assert!(texts.iter().any(|t| t.contains(&note[..12])), "no note {note:?}");
    }
    let points = doc.descendants().find(|n| n.attribute("class") == Some("points")).unwrap();
    let marks = points.descendants().filter(|n| n.has_tag_name("circle")).count();
    assert_eq!(marks, plot.points.len());
}

#[test]
fn html_runs_in_chromium_without_errors_and_draws_every_point() {
    let plot = blobs();
    let dir = tempdir();
    let page = dir.path().join("blobs.html");
    render_to_file(&plot, &page, &RenderOptions::default()).expect("the page is written");
    keep(&page);
    let url = format!("file://{}", page.display());

    let output = chromium(dir.path(), &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&output.stdout);
    let body = body_tag(&dom).unwrap_or_else(|| {
        panic!("Chromium dumped no <body>; stderr:\n{}", String::from_utf8_lossy(&output.stderr))
    });
    assert!(body.contains("data-errors=\"\""), "the page recorded errors: {body}");
    let drawn = format!("data-points-drawn=\"{}\"", plot.points.len());
    assert!(body.contains(&drawn), "expected {drawn}: {body}");
    assert!(!body.contains("data-pwned"), "a passage's markup ran as script: {body}");
    assert_no_console_errors(&output);

    let shot = dir.path().join("shot.png");
    let screenshot = format!("--screenshot={}", shot.display());
    let output = chromium(dir.path(), &[&screenshot, "--window-size=1000,750", &url]);
    assert_no_console_errors(&output);
    keep(&shot);
    let image = decode_png(&std::fs::read(&shot).unwrap_or_else(|err| {
        panic!("no screenshot at {} ({err}); stderr:\n{}", shot.display(), stderr(&output))
    }));
    assert_not_blank(&image);
    assert_categories_visible(&image, &plot, "the screenshot");
}

#[test]
fn html_page_answers_hover_legend_clicks_zoom_and_reset() {
    let plot = blobs();
    let dir = tempdir();
    let page = render_html(&plot, &RenderOptions::default());
    // The probe runs after the page's own script, as a user would act on it: it sweeps the
    // pointer until the hover card opens, hides the first legend entry, zooms in, resets.
    let probed = page.replace("</body>", &format!("<script>\n{PROBE}</script>\n</body>"));
    let path = dir.path().join("probe.html");
    std::fs::write(&path, probed).unwrap();
    let output = chromium(
        dir.path(),
        &["--window-size=1000,750", "--dump-dom", &format!("file://{}", path.display())],
    );
    assert_no_console_errors(&output);
    let dom = String::from_utf8_lossy(&output.stdout);
    let body = body_tag(&dom).expect("a <body> in the dump");
    assert!(body.contains("data-errors=\"\""), "the page recorded errors: {body}");
    let value = |name: &str| -> String {
        let start =
            body.find(&format!("data-{name}=\"")).unwrap_or_else(|| panic!("no {name}: {body}"));
        let rest = &body[start + name.len() + 7..];
        rest[..rest.find('"').unwrap()]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let hover = value("hover");
    assert!(hover.starts_with("doc-") && hover.contains("\"quoted\" <id>"), "hover card: {hover}");
    assert!(hover.contains("Passage "), "no passage in the hover card: {hover}");
    let total = plot.points.len();
    assert_eq!(value("after-toggle"), (total - POINTS_PER_BLOB).to_string());
    let zoomed: usize = value("after-zoom").parse().unwrap();
    assert!(zoomed < total - POINTS_PER_BLOB, "zooming in kept {zoomed} points in view");
    assert_eq!(value("after-reset"), (total - POINTS_PER_BLOB).to_string());
}

/// Acts on the page and records what it drew in data-* attributes of the body.
const PROBE: &str = r##"
(function () {
  var canvas = document.getElementById("canvas"), tip = document.getElementById("tip");
  var box = canvas.getBoundingClientRect(), body = document.body;
  function at(type, x, y, extra) {
    var init = { clientX: box.left + x, clientY: box.top + y, bubbles: true, cancelable: true };
    for (var key in extra || {}) init[key] = extra[key];
    canvas.dispatchEvent(type === "wheel" ? new WheelEvent(type, init)
      : type === "dblclick" ? new MouseEvent(type, init) : new PointerEvent(type, init));
  }
  search: for (var y = 0; y < box.height; y += 3) {
    for (var x = 0; x < box.width; x += 3) {
      at("pointermove", x, y);
      if (tip.style.display === "block") { body.dataset.hover = tip.textContent; break search; }
    }
  }
  document.querySelector("#legend li").click();
  requestAnimationFrame(function () {
    body.dataset.afterToggle = body.dataset.pointsDrawn;
    at("wheel", box.width / 2, box.height / 2, { deltaY: -600 });
    requestAnimationFrame(function () {
      body.dataset.afterZoom = body.dataset.pointsDrawn;
      at("dblclick", 10, 10);
      requestAnimationFrame(function () { body.dataset.afterReset = body.dataset.pointsDrawn; });
    });
  });
})();
"##;

/// Three Gaussian blobs; ids, passages, sources and category names carry markup, quotes,
/// a script-closing tag, control characters and non-Latin text.
fn blobs() -> Plot {
    let mut random = Random(0x5eed_cafe);
    let centres = [(-4.0, 1.0), (3.0, 3.5), (0.5, -3.5)];
    let mut points = Vec::new();
    for (category, (cx, cy)) in centres.iter().enumerate() {
        for i in 0..POINTS_PER_BLOB {
            points.push(PlotPoint {
                x: cx + random.gaussian(),
                y: cy + random.gaussian(),
                category,
                id: format!("doc-{category}-{i} \"quoted\" <id> & 'single'"),
                text: format!(
                    "Passage {i}: </script><script>document.body.dataset.pwned = 1</script> \
                     <!-- comment --> \u{2028} tab\tand\u{1} control, «ünïcødé» 日本語 \\ \"end\""
                ),
                source: (i % 2 == 0).then(|| format!("notes/<{category}>&file.md:{i}")),
                score: (i % 3 != 0).then_some(i as f32 / POINTS_PER_BLOB as f32),
            });
        }
    }
    Plot {
        title: "UMAP of \"blobs\" </title> <b>(450 of 450 passages)</b>".to_string(),
        notes: vec![
            "k-NN preservation (k = 10): 0.82 of neighbours kept".to_string(),
            "silhouette by source: 0.41 (1 = well separated, 0 = overlapping)".to_string(),
        ],
        x_label: "UMAP 1".to_string(),
        y_label: "UMAP 2".to_string(),
        legend_title: "source".to_string(),
        categories: vec![
            "alpha <&> \"quoted\" 'x'".to_string(),
            "beta </script>".to_string(),
            "gamma: a very long category name that cannot fit in any legend box at all".to_string(),
        ],
        score_label: "neighbours kept".to_string(),
        points,
    }
}

/// A small seeded generator (xorshift64*), so the plot is the same on every run.
struct Random(u64);

impl Random {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    /// A standard normal sample (Box-Muller).
    fn gaussian(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
    }
}

/// The `<body ...>` start tag of a dumped DOM (the page's scripts never spell one out).
pub(crate) fn body_tag(dom: &str) -> Option<&str> {
    let start = dom.find("<body ")?;
    let end = start + dom[start..].find('>')?;
    Some(&dom[start..=end])
}

/// Runs headless Chromium on a fresh profile in `dir`, killed after [`CHROMIUM_TIMEOUT`].
pub(crate) fn chromium(dir: &Path, args: &[&str]) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the HTML plot is tested in headless Chromium. Install Debian's \
         package (apt-get install -y --no-install-recommends chromium), as .ci/run does."
    );
    let profile = tempfile::tempdir_in(dir).unwrap();
    let (out_path, err_path) = (dir.join("chromium.out"), dir.join("chromium.err"));
    // Output goes to files, not pipes: a DOM larger than a pipe's buffer would block Chromium
    // while this thread waits for it to exit.
    let mut child = Command::new(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {CHROMIUM}: {err}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Chromium did not finish within {CHROMIUM_TIMEOUT:?} ({args:?}); stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    assert!(status.success(), "Chromium failed ({status}); stderr:\n{}", stderr(&output));
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The page logs nothing: any console line, or an uncaught exception, is a failure.
pub(crate) fn assert_no_console_errors(output: &Output) {
    let text = stderr(output);
    let bad: Vec<&str> =
        text.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect();
    assert!(bad.is_empty(), "the page wrote to the console:\n{}", bad.join("\n"));
}

pub(crate) struct Image {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pixels: Vec<Rgb>,
}

/// Decodes a PNG of any 8-bit colour type to RGB (alpha dropped: plots are opaque).
pub(crate) fn decode_png(bytes: &[u8]) -> Image {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut buffer).expect("PNG image data");
    let channels = info.color_type.samples();
    let pixels = buffer[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| match channels {
            1 | 2 => [p[0]; 3],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    Image { width: info.width, height: info.height, pixels }
}

pub(crate) fn assert_not_blank(image: &Image) {
    let mut colours: Vec<Rgb> = image.pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "only {} distinct colours: a blank image?", colours.len());
}

/// Every category's colour, or a tint of it over white, covers more pixels than its legend
/// marker alone could.
pub(crate) fn assert_categories_visible(image: &Image, plot: &Plot, what: &str) {
    for entry in Legend::of(plot).entries {
        let count = image.pixels.iter().filter(|p| is_tint_of(**p, entry.colour)).count();
        assert!(
            count >= MIN_CATEGORY_PIXELS,
            "{what} has {count} pixels of {:?}'s colour {:?}, expected at least {MIN_CATEGORY_PIXELS}",
            entry.name,
            entry.colour
        );
    }
}

/// Whether `pixel` is `colour` laid over white at an opacity of at least 0.45 (points are
/// drawn translucent and overlap).
fn is_tint_of(pixel: Rgb, colour: Rgb) -> bool {
    let (mut dot, mut norm) = (0.0, 0.0);
    for k in 0..3 {
        let (p, c) = (255.0 - pixel[k] as f32, 255.0 - colour[k] as f32);
        dot += p * c;
        norm += c * c;
    }
    let t = dot / norm;
    let close = (0..3).all(|k| {
        let expected = 255.0 - t * (255.0 - colour[k] as f32);
        (pixel[k] as f32 - expected).abs() <= 14.0
    });
    (0.45..=1.05).contains(&t) && close
}

/// Copies a drawn file to `$KINDRED_KEEP_PLOTS`, when set.
fn keep(path: &Path) {
    if let Some(folder) = std::env::var_os("KINDRED_KEEP_PLOTS").map(PathBuf::from) {
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(path, folder.join(path.file_name().unwrap())).unwrap();
    }
}

fn keep_text(name: &str, text: &str) {
    if let Some(folder) = std::env::var_os("KINDRED_KEEP_PLOTS").map(PathBuf::from) {
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), text).unwrap();
    }
}
