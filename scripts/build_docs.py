"""Builds the API reference from the docstrings (pdoc) with every warning an error, and
checks that every relative link of README.md, CHANGELOG.md, docs/*.md and the records of
experiments (benchmarks/results/logs/*.md) points at a file that exists (and at one of
its headings, for a ``#anchor``) and every ``:func:``/``:class:``/``:mod:`` reference in
a docstring at an object that exists. A step of .ci/run; ``pip install -e '.[docs]'``
first.

It also renders those pages (README.md as the index) into ``DIR/guides/`` with markdown2
(pdoc's own Markdown dependency, so no new package), links between pages turned into
links between the HTML files; a link to a page or a ``#heading`` that the built site
lacks fails the build.

Usage: python scripts/build_docs.py [--out DIR]   (default: site/, git-ignored)
"""

from __future__ import annotations

import argparse
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# pdoc evaluates the annotations of NamedTuple's generated __init__ outside jaxdiff.core.data,
# where `np` is not imported; the field types are still shown. The one warning let pass.
ALLOWED = "Error parsing type annotation ForwardRef('np.ndarray') for jaxdiff.core.data.Normalizer"


def guide_pages() -> list[pathlib.Path]:
    """The Markdown pages of the site: the README, the changelog, docs/, and the records
    of experiments in benchmarks/results/logs/ that the docs link to."""
    return [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "benchmarks" / "results" / "logs").glob("*.md")),
    ]


def anchors(page: pathlib.Path) -> set[str]:
    """The anchors a Markdown page's headings get on GitHub: lower case, punctuation
    dropped (hyphens and underscores kept), spaces made hyphens."""
    out = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return out


def broken_links() -> list[str]:
    """Relative links to files that do not exist, or to a ``#anchor`` of a Markdown page
    that has no such heading."""
    bad = []
    pages = guide_pages()
    for page in pages:
        for target, anchor in re.findall(r"\]\(([^)#\s]+)(?:#([^)]*))?\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = page.parent / target
            if not path.exists():
                bad.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                bad.append(f"{page.relative_to(ROOT)}: {target}#{anchor}")
    return bad


ROLE = re.compile(r":(?:func|class|mod|data|meth|attr):`~?([\w.]+)`")


def _resolves(name: str, module) -> bool:
    import importlib

    for base in (name, f"{module.__name__}.{name}"):
        parts = base.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
                return True
            except AttributeError:
                break
    return False


def broken_references() -> list[str]:
    """Sphinx-style roles in docstrings (``:func:`x```) whose target does not exist,
    resolved as written, within the docstring's own module, or within its classes."""
    import importlib
    import inspect
    import pkgutil

    import jaxdiff

    bad, seen = [], set()
    names = [m.name for m in pkgutil.walk_packages(jaxdiff.__path__, "jaxdiff.")]
    for name in ["jaxdiff", *names]:
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        members = [module]
        for _, value in inspect.getmembers(module):
            members.append(value)
            if inspect.isclass(value):
                members += [v for _, v in inspect.getmembers(value)]
        for obj in members:
            home = inspect.getmodule(obj)
            if id(obj) in seen or home is None or not home.__name__.startswith("jaxdiff"):
                continue
            seen.add(id(obj))
            classes = [v for _, v in inspect.getmembers(home, inspect.isclass)]
            for target in ROLE.findall(inspect.getdoc(obj) or ""):
                if not (
                    _resolves(target, home)
                    or any(hasattr(c, target.split(".")[0]) for c in classes)
                ):
                    bad.append(f"{home.__name__}: {target}")
    return sorted(set(bad))


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
    "padding:.2rem .5rem}pre{background:#f6f6f6;padding:.5rem;overflow-x:auto}"
    "img{max-width:100%}"
)


def _html_name(page: pathlib.Path) -> str:
    return {"README.md": "index.html", "CHANGELOG.md": "changelog.html"}.get(
        page.name, page.with_suffix(".html").name
    )


def render_guides(out: pathlib.Path) -> list[str]:
    """Writes the guides as HTML into ``out/guides`` and returns the links among them
    that do not resolve in the built site (a page, or a heading's id on it)."""
    import shutil

    import markdown2

    guides = out / "guides"
    guides.mkdir(parents=True, exist_ok=True)
    pages = guide_pages()
    names = {page.resolve(): _html_name(page) for page in pages}
    for image in (ROOT / "docs").glob("*.png"):
        shutil.copy(image, guides / image.name)

    def href(page: pathlib.Path, match: re.Match) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        path = (page.parent / target).resolve()
        if path in names:
            return f'href="{names[path]}{anchor}"'
        if path.suffix == ".png" and path.parent == (ROOT / "docs").resolve():
            return f'href="{path.name}"'
        return match.group(0)

    links, ids = [], {}
    for page in pages:
        name = names[page.resolve()]
        html = markdown2.markdown(
            page.read_text(), extras=["tables", "fenced-code-blocks", "header-ids"]
        )
        html = re.sub(
            r'href="(?!https?:|mailto:|#)([^"#]+\.md)(#[^"]*)?"',
            lambda m, page=page: href(page, m),
            html,
        )
        html = re.sub(r'src="(?:docs/)?([\w.-]+\.png)"', r'src="\1"', html)
        links += [(name, h) for h in re.findall(r'href="([^"]+\.html[^"]*)"', html)]
        ids[name] = set(re.findall(r'\bid="([^"]+)"', html))
        nav = '<p><a href="index.html">Guides</a> · <a href="../jaxdiff.html">API reference</a></p>'
        (guides / name).write_text(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{page.stem}</title>'
            f"<style>{STYLE}</style></head><body>{nav}{html}</body></html>"
        )
    # Every guide's ids are known once it is written: a link resolves when it names a
    # page of the site and, with #anchor, one of that page's ids.
    bad = []
    for source, link in links:
        target, _, anchor = link.partition("#")
        if target not in ids or (anchor and anchor not in ids[target]):
            bad.append(f"site/guides/{source}: {link}")
    return bad


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "site"))
    args = p.parse_args()
    cmd = [sys.executable, "-W", "error", "-W", f"ignore:{ALLOWED}:UserWarning"]
    cmd += ["-m", "pdoc", "--docformat", "google", "-o", args.out, "jaxdiff"]
    built = subprocess.run(cmd, cwd=ROOT)
    if built.returncode != 0:
        print("docs: the API reference did not build cleanly", file=sys.stderr)
        return 1
    bad = broken_links() + broken_references() + render_guides(pathlib.Path(args.out))
    for link in bad:
        print(f"docs: broken link or reference {link}", file=sys.stderr)
    if bad:
        return 1
    print(
        f"docs: API reference in {args.out}, guides in {args.out}/guides; every relative "
        "link and reference resolves"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
