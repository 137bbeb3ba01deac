"""The docs stay true: README.md and docs/ against the code, the command line and each other.

Each test reads the Markdown as a user would and checks one promise: every relative link and
image resolves, every ``neuronet ...`` command shown parses with today's command line, the
README's Python example runs and prints what its comments say, the README's headline figures are
the ones on the pages it links to, every page is in the site's navigation and opens by saying
what it answers, history (commit hashes, issue numbers, dates, machine loads) stays in
benchmarks/RESULTS.md, and the public API has numpydoc sections whose examples run.
``mkdocs build --strict`` itself runs in CI (.ci/run), with the ``docs`` extra installed.
"""
import contextlib
import doctest
import inspect
import io
import json
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

import neuronet
from neuronet.cli.parser import build_parser
from neuronet.sklearn import NeuronetClassifier

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
MARKDOWN = [README, *PAGES]
# The pages this project writes; checkpoints.md comes from the checkpoint work and is checked for
# links and commands like every page, not for its wording.
TOPICS = ["accuracy", "speed", "agreement", "the-post", "sklearn", "data", "contributing"]


def text(path):
    return path.read_text(encoding="utf-8")


def fences(markdown):
    """(language, lines) of each fenced code block, and the prose with the blocks left out."""
    blocks, prose, block = [], [], None
    for line in markdown.splitlines():
        if line.startswith("```"):
            if block is None:
                block = (line[3:].strip(), [])
            else:
                blocks.append(block)
                block = None
        elif block is None:
            prose.append(line)
        else:
            block[1].append(line)
    return blocks, "\n".join(prose)


def without_code(markdown):
    """Markdown with its fenced code blocks left out (a link inside code is not a link)."""
    return fences(markdown)[1]


def links(path):
    """Every link and image target in a Markdown file, outside code blocks."""
    return re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", without_code(text(path)))


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_relative_links_and_images_resolve(path):
    targets = [t for t in links(path) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    for target in targets:
        file = (path.parent / target.split("#")[0]).resolve()
        assert file.is_file(), f"{path.name} links to {target}, which does not exist"
        if path.parent == DOCS:  # the site is built from docs/ alone
            assert DOCS in file.parents, f"{path.name} links to {target}, outside docs/"


def commands(path):
    """Every ``neuronet ...`` command shown: in code spans and in the lines of code blocks,
    ``python -m neuronet`` included, comments and ``&&`` chains taken apart."""
    markdown = text(path)
    found = re.findall(r"`((?:python -m )?neuronet [^`]+)`", without_code(markdown))
    for language, block in fences(markdown)[0]:
        lines = "\n".join(block).replace("\\\n", " ").splitlines()  # continued lines joined
        for line in lines if language in ("", "bash", "sh") else ():
            for part in line.split("#")[0].split("&&"):
                part = re.split(r"\s(?:\d?[<>]|&|\|)", part)[0].strip()  # no redirections
                if re.match(r"(python -m )?neuronet ", part):
                    found.append(part)
    return [re.sub(r"^python -m ", "", command) for command in found]


def files_named(words, folder):
    """Make each file a command names (net.npz, docs/training.png), empty, under ``folder``: an
    option may check that its file exists, or that its folder does."""
    for word in words:
        if re.fullmatch(r"[\w./-]*[A-Za-z_][\w./-]*\.[A-Za-z]\w*", word) and not word.startswith("-"):
            (folder / word).parent.mkdir(parents=True, exist_ok=True)
            (folder / word).touch()


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_every_command_shown_parses(path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for command in commands(path):
        words = shlex.split(command)
        assert words[0] == "neuronet"
        files_named(words, tmp_path)
        with (contextlib.redirect_stderr(io.StringIO()) as errors,
              contextlib.redirect_stdout(io.StringIO())):
            try:
                build_parser().parse_args(words[1:])
            except SystemExit as exit:
                if exit.code == 0:  # --help
                    continue
                pytest.fail(f"{path.name} shows `{command}`, which today's CLI refuses: "
                            f"{errors.getvalue().strip()}")


def test_a_wrong_option_is_caught(monkeypatch, tmp_path):
    # The check above would be worthless if a bad command parsed: show it one.
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n```\nRun `neuronet train --epochs 0` or\n```bash\n"
                    "neuronet compare --nope  # a comment\n```\n")
    assert commands(page) == ["neuronet train --epochs 0", "neuronet compare --nope"]
    for command in commands(page):
        with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
            build_parser().parse_args(shlex.split(command)[1:])


def test_readme_is_short_and_starts_with_what_a_user_needs():
    lines = text(README).splitlines()
    assert len(lines) <= 150
    first_table = next(i for i, line in enumerate(lines, 1) if line.startswith("|"))
    assert first_table <= 60
    first_code = next(i for i, line in enumerate(lines) if line.startswith("```"))
    assert lines[first_code] == "```bash"
    shown = [line for line in lines[first_code + 1:first_code + 8] if line.startswith("python")]
    assert shown == ['python -m pip install . && python -m neuronet compare',
                     ('python -m pip install -e ".[test]" && python -m pytest -n auto tests '
                      'benchmarks --benchmark-disable -q')]
    # CI runs the README's test command as it is written
    assert shown[1] in text(ROOT / ".ci" / "run").splitlines()


def headline_rows():
    """(figure column, linked page) for each row of the README's first table."""
    lines = text(README).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|"))))
        page = re.search(r"\]\(([^)]+)\)", cells["details"])[1]
        rows.append((cells["figure"], README.parent / page))
    return rows


def numbers(figure):
    return re.findall(r"\d[\d,]*(?:\.\d+)?(?:e-?\d+)?", figure)


def test_headline_figures_are_the_pages_figures():
    rows = headline_rows()
    assert len(rows) >= 5
    for figure, page in rows:
        body = text(page)
        for number in numbers(figure):
            assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", body), (
                f"README's headline {figure!r}: {number} is not on {page.name}")
        if not numbers(figure):  # a figure in words ("bit for bit") is stated on the page too
            assert figure in body


def test_a_changed_headline_figure_is_caught():
    assert numbers("95.33 / 95.77 / 96.28 %") == ["95.33", "95.77", "96.28"]
    assert numbers("32,177 / 5,930") == ["32,177", "5,930"]
    assert numbers("3.2e-15") == ["3.2e-15"]
    accuracy = text(DOCS / "accuracy.md")
    assert not re.search(r"(?<![\d.])95\.34(?![\d])", accuracy)  # one digit off would be missed


def readme_example():
    return re.search(r"```python\n(.*?)```", text(README), flags=re.DOTALL)[1]


def test_readme_example_is_short():
    assert len(readme_example().splitlines()) <= 15


@pytest.mark.data
@pytest.mark.slow
def test_readme_example_runs_and_prints_what_it_says(mnist_folder, monkeypatch, tmp_path):
    monkeypatch.setenv("NEURONET_DATA", str(mnist_folder))
    monkeypatch.chdir(tmp_path)  # it saves net.npz
    example = tmp_path / "example.py"
    example.write_text(readme_example())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(example))
    difference, same, accuracy = out.getvalue().split()
    assert float(difference) < 1e-12  # "about 1e-15": the twin to within rounding
    assert same == "True"
    assert 85 < float(accuracy.rstrip("%")) < 95  # "about 90%" after one epoch of 10,000
    assert (tmp_path / "net.npz").is_file()


def nav_pages():
    return re.findall(r"^\s*-\s*[^:\n]+:\s*(\S+\.md)\s*$", text(ROOT / "mkdocs.yml"), flags=re.MULTILINE)


def test_every_page_is_in_the_site_and_the_readme():
    assert sorted(nav_pages()) == sorted(path.name for path in PAGES)
    listed = set(links(README))
    for page in PAGES:
        if page.name not in ("index.md", "api.md"):
            assert f"docs/{page.name}" in listed, f"README does not link docs/{page.name}"
    assert {f"{topic}.md" for topic in TOPICS + ["checkpoints"]} <= {p.name for p in PAGES}


@pytest.mark.parametrize("topic", TOPICS + ["index", "api"])
def test_each_page_opens_with_what_it_answers(topic):
    lines = [line for line in text(DOCS / f"{topic}.md").splitlines() if line.strip()]
    assert lines[0].startswith("# ")
    assert lines[1].startswith(("This page answers", "This site answers")), lines[1]


# History belongs in benchmarks/RESULTS.md: which commit, which day, at what load.
HISTORY_PATTERNS = {
    "commit hash": r"(?<![\w/.-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,12}(?![\w/.-])",
    "issue number": r"\bissue\s+#?\d+|\bissues? #\d+",
    "date": r"\b20\d\d-\d\d-\d\d\b",
    "machine load": r"\bload average\b|\bat load \d|\(load \d|\bload \d+(\.\d+)?\b",
}


def history_in(path):
    found = []
    for number, line in enumerate(text(path).splitlines(), 1):
        if "getloadavg" in line:  # a script printing the load of its own run
            continue
        for what, pattern in HISTORY_PATTERNS.items():
            if re.search(pattern, line, flags=re.IGNORECASE):
                found.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}")
        if path.suffix == ".md" and re.search(r"\bsession\b", line):
            found.append(f"{path.relative_to(ROOT)}:{number}: session: {line.strip()}")
    return found


def test_history_only_in_results():
    files = [*MARKDOWN, ROOT / "pyproject.toml", ROOT / "mkdocs.yml", ROOT / ".ci" / "run"]
    for folder in ("neuronet", "tests", "benchmarks"):
        files += sorted((ROOT / folder).rglob("*.py"))
    files.remove(Path(__file__).resolve())  # its own examples of history, above
    found = [hit for path in files for hit in history_in(path)]
    assert not found, "history outside benchmarks/RESULTS.md:\n" + "\n".join(found)


def test_history_patterns_catch_history(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("at commit a89de79\nissue 10 asked\nrun on 2026-12-01\nat load 1.4\n"
                    "this session's kernels\nmd5 f68b3c2dcbeed3e8\n12 ms with 784-100-10\n")
    hits = [what for line in text(page).splitlines()
            for what, pattern in HISTORY_PATTERNS.items() if re.search(pattern, line, flags=re.IGNORECASE)]
    # the md5 (16 hex digits) and the network's name are not history
    assert hits == ["commit hash", "issue number", "date", "machine load"]


# --- the API's docstrings -----------------------------------------------------------------

def public_methods(cls):
    return [(f"{cls.__name__}.{name}", member) for name, member in vars(cls).items()
            if not name.startswith("_") and inspect.isfunction(member)]


def api():
    """(name, object) for each public name: ``neuronet.__all__``'s functions and classes (the
    BACKENDS table is a dict: no parameters), and the public methods of the two classes."""
    names = [(name, getattr(neuronet, name)) for name in neuronet.__all__
             if callable(getattr(neuronet, name))]
    return names + public_methods(neuronet.Network) + [
        ("NeuronetClassifier", NeuronetClassifier), *public_methods(NeuronetClassifier)]


def parameters_documented(doc):
    """The names the Parameters section documents: its unindented lines, before any " : "."""
    body = re.split(r"^Parameters\n-{3,}\n", doc, flags=re.MULTILINE)[1]
    body = re.split(r"^\w[\w ]*\n-{3,}$", body, flags=re.MULTILINE)[0]
    names = [line.split(" : ")[0] for line in body.splitlines() if line and not line[0].isspace()]
    return {name.strip() for line in names for name in line.split(",")}


def sections(obj):
    doc = inspect.getdoc(obj) or ""
    return set(re.findall(r"^(\w[\w ]*)\n-{3,}$", doc, flags=re.MULTILINE))


@pytest.mark.parametrize("name,obj", api(), ids=lambda v: v if isinstance(v, str) else "")
def test_public_api_has_numpydoc_sections(name, obj):
    found = sections(obj)
    if inspect.isclass(obj) and issubclass(obj, Exception):
        takes = ["message"]  # documented as the message the exception carries
    else:
        takes = [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
    if takes:
        assert "Parameters" in found, f"{name}: no Parameters section"
        documented = parameters_documented(inspect.getdoc(obj))
        for parameter in takes:
            assert parameter in documented, f"{name}: {parameter} undocumented"
    if not inspect.isclass(obj) and inspect.signature(obj).return_annotation not in (
            None, "None", inspect.Signature.empty):
        assert "Returns" in found, f"{name}: no Returns section"


def test_parameters_documented_reads_the_section():
    doc = "Summary.\n\nParameters\n----------\nx, y : array_like\n    Mentions seed.\nh : float\n" \
          "\nReturns\n-------\nseed : int\n    Not a parameter.\n"
    assert parameters_documented(doc) == {"x", "y", "h"}


def test_public_api_has_type_hints():
    for name, obj in api():
        if inspect.isclass(obj):
            continue
        hints = inspect.signature(obj)
        assert hints.return_annotation is not inspect.Signature.empty, f"{name}: no return hint"
        for parameter in hints.parameters.values():
            if parameter.name != "self":
                assert parameter.annotation is not inspect.Parameter.empty, (
                    f"{name}: {parameter.name} has no type hint")


@pytest.mark.parametrize("obj", [neuronet.Network, neuronet.gradcheck, neuronet.evaluate,
                                 NeuronetClassifier], ids=lambda obj: obj.__name__)
def test_docstring_examples_run(obj):
    module = sys.modules[obj.__module__]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = doctest.DocTestFinder().find(obj, obj.__name__, globs=vars(module).copy())
    assert sum(len(test.examples) for test in tests) > 0
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


# --- the figures' script ------------------------------------------------------------------

def test_speed_plot_reads_pytest_benchmark_json(tmp_path):
    plot = runpy.run_path(str(ROOT / "benchmarks" / "plot.py"))
    runs = [("epoch of 200 784-100-10 sigmoid batch 10", "loops", 0.002),
            ("epoch of 200 784-100-10 sigmoid batch 1", "loops", 0.008),
            ("sgd-step 784-100-10 sigmoid batch 10", "loops", 0.001),  # other work: left out
            ("epoch of 200 784-30-10 sigmoid batch 10", "loops", 0.5)]  # other network
    saved = {"benchmarks": [{"group": group, "params": {"name": name}, "stats": {"min": best}}
                            for group, name, best in runs]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(saved))
    # samples/s = the epoch's 200 samples over the best round's seconds
    assert plot["rates"](path, "epoch of 200", "784-100-10", "sigmoid") == {
        "loops": [(1, 200 / 0.008), (10, 200 / 0.002)]}
    # one step's samples are its batch
    assert plot["rates"](path, "sgd-step", "784-100-10", "sigmoid") == {"loops": [(10, 10 / 0.001)]}
    plot["main"]([str(path), str(tmp_path / "speed.png")])
    assert (tmp_path / "speed.png").read_bytes().startswith(b"\x89PNG")
