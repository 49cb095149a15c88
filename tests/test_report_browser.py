"""The demo run's report as a reader gets it: in headless Chromium, and bundled by `snakemake --report`.

Needs Debian's `chromium` (.ci/run installs it) driven through playwright's Python client; a missing
browser skips these tests locally and fails them in CI. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake
from test_report import make_results

from genolm.cli import main as genolm_main

pytestmark = [pytest.mark.browser, pytest.mark.workflow]

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:  # reported by the `browser` fixture: a skip locally, a failure in CI
    sync_playwright = None

ARTIFACTS = REPO / "test-artifacts"
WIDTH = 1400
SECTIONS = ("overview", "data", "pretraining", "gene_function", "disease_risk", "provenance")
FAMILIES = ("gene_function", "disease_risk")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ALL_DRAWN = (
    "() => [...document.querySelectorAll('div.plotly-graph-div')].every(d => d.querySelector('.main-svg'))"
)
# Counted once every Plotly.newPlot has finished: rendered plots must equal plot divs.
DOM_FACTS = """() => ({
  sections: [...document.querySelectorAll('main > section')].map(s => s.id),
  plotDivs: document.querySelectorAll('div.plotly-graph-div').length,
  rendered: [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p.querySelector('.main-svg')).length,
  deadLinks: [...document.querySelectorAll('a[href^="#"]')]
    .map(a => a.getAttribute('href').slice(1)).filter(id => !document.getElementById(id)),
  navLinks: [...document.querySelectorAll('nav a')].map(a => a.getAttribute('href')),
  scrollWidth: document.documentElement.scrollWidth,
  banner: !!document.getElementById('synthetic-banner'),
})"""


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the browser tests (.ci/run installs Debian's chromium)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium (a persistent context, so it gets its own --user-data-dir) per module."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("no chromium on PATH")
    if sync_playwright is None:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": WIDTH, "height": 900},
        )
        yield context
        context.close()


def open_page(browser, path: Path, screenshot: str) -> dict:
    """Load a local HTML file; return its console errors, network requests and DOM facts."""
    page = browser.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(path.resolve().as_uri(), wait_until="load")
        with contextlib.suppress(PlaywrightTimeout):  # plots draw asynchronously; the asserts say which
            page.wait_for_function(ALL_DRAWN, timeout=30_000)
        facts = page.evaluate(DOM_FACTS)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / screenshot, full_page=True)
    finally:
        page.close()
    return {"errors": errors, "requests": requests, **facts}


def _assert_clean(facts: dict, html_path: Path) -> None:
    assert facts["errors"] == []
    assert facts["requests"] == [html_path.resolve().as_uri()]  # nothing but the file itself
    assert facts["plotDivs"] == len(re.findall(r"Plotly\.newPlot\(", html_path.read_text())) > 0
    assert facts["rendered"] == facts["plotDivs"]
    assert facts["deadLinks"] == []
    assert facts["scrollWidth"] <= WIDTH  # no sideways scrolling on a 1400 px screen


def test_demo_report_renders_every_section_and_plot(browser, demo_run):
    html_path = demo_run / "report.html"
    facts = open_page(browser, html_path, "report.png")
    _assert_clean(facts, html_path)
    assert facts["sections"] == re.findall(r'<section id="([^"]+)">', html_path.read_text())
    assert set(SECTIONS) <= set(facts["sections"])
    assert facts["banner"]  # the demo is synthetic and says so
    task_dirs = {p.parent.parent for f in FAMILIES for p in demo_run.glob(f"{f}/*/*/metrics.json")}
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert {p.name for p in task_dirs} == {t for f in FAMILIES for t in config[f]["tasks"]}
    for task_dir in task_dirs:
        assert f"#{task_dir.parent.name}-{task_dir.name}" in facts["navLinks"]


def test_compare_page_renders_side_by_side(browser, tmp_path):
    make_results(tmp_path / "run_alpha", val_loss=1.1)
    make_results(tmp_path / "run_beta", val_loss=0.9, shift=0.05, disease=False)
    out = tmp_path / "compare.html"
    assert (
        genolm_main(["compare", str(tmp_path / "run_alpha"), str(tmp_path / "run_beta"), "-o", str(out)]) == 0
    )
    facts = open_page(browser, out, "compare.png")
    _assert_clean(facts, out)
    assert facts["sections"] == ["runs", "pretraining", "tasks"]
    assert "#gene_function-function_class" in facts["navLinks"]
    assert "#disease_risk-clinvar_like" in facts["navLinks"]  # present in one run only


def _snakemake_report(workdir: Path, name: str, config: Path) -> dict[str, dict]:
    """Run `snakemake --report <name>.zip`; return its entries (path -> record) read from the bundle."""
    run_snakemake(workdir, "--report", f"{name}.zip", configfiles=[config], timeout=300)
    with zipfile.ZipFile(workdir / f"{name}.zip") as bundle:
        names = bundle.namelist()
        page = bundle.read(f"{name}/report.html").decode()
    data = re.search(r'<script id="results">\s*var results = (.*?);\s*</script>', page, flags=re.S)
    results = json.loads(data.group(1))
    for record in results.values():
        assert f"{name}/{record['data_uri']}" in names  # every listed file is in the bundle
    return results


def _workdir(demo_run: Path) -> Path:
    return demo_run.parent.parent


def test_snakemake_report_bundles_marked_files_with_captions(demo_run):
    results = _snakemake_report(_workdir(demo_run), "bundle", REPO / "config" / "config.yaml")
    rel = {str(p.relative_to(_workdir(demo_run))) for p in demo_run.rglob("*")}
    run = f"results/{demo_run.name}"
    expected = {f"{run}/report.html", f"{run}/preprocess/splits.tsv", f"{run}/pretrain/log.csv"}
    expected |= {p for p in rel if re.fullmatch(rf"{run}/gene_function/[^/]+/[^/]+/metrics.json", p)}
    expected |= {p for p in rel if re.fullmatch(rf"{run}/disease_risk/[^/]+/[^/]+/metrics.json", p)}
    prioritised = {p for p in rel if re.fullmatch(rf"{run}/prioritise/[^/]+/metrics.json", p)}
    assert prioritised, "the demo prioritises its disease-risk task"
    assert set(results) == expected | prioritised
    for path, record in results.items():
        caption = record["caption"]
        assert "{{" not in caption and "{%" not in caption, path
        if path in prioritised:
            task = path.split("/")[-2]
            assert f"<strong>{task}</strong>" in caption and "burden test" in caption
        elif "/metrics.json" in path:
            task, method = path.split("/")[-3:-1]
            assert f"<strong>{task}</strong>" in caption and f"<strong>{method}</strong>" in caption
            assert "95% bootstrap confidence interval" in caption
    assert "SYNTHETIC" in results[f"{run}/report.html"]["caption"]
    assert f"<strong>{demo_run.name}</strong>" in results[f"{run}/pretrain/log.csv"]["caption"]


def test_snakemake_report_without_disease_risk_tasks(demo_run, tmp_path):
    """A config with no disease-risk tasks still bundles: no marked output is left missing."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    del config["disease_risk"]
    path = tmp_path / "no_disease.yaml"
    path.write_text(yaml.safe_dump(config))
    results = _snakemake_report(_workdir(demo_run), "no_disease", path)
    assert not [p for p in results if "/disease_risk/" in p]
    assert [p for p in results if "/gene_function/" in p]
    assert f"results/{demo_run.name}/report.html" in results
