"""Builds the API reference from the docstrings (pdoc) with every warning an error, and
checks that every relative link of README.md, CHANGELOG.md and docs/*.md points at a
file that exists (and at one of its headings, for a ``#anchor``) and every
``:func:``/``:class:``/``:mod:`` reference in a docstring at an object that
exists. A step of .ci/run; ``pip install -e '.[docs]'`` first.

Usage: python scripts/build_docs.py [--out DIR]   (default: site/, git-ignored)
"""

from __future__ import annotations

import argparse
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# pdoc evaluates the annotations of NamedTuple's generated __init__ outside jaxdiff.data,
# where `np` is not imported; the field types are still shown. The one warning let pass.
ALLOWED = "Error parsing type annotation ForwardRef('np.ndarray') for jaxdiff.data.Normalizer"


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
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
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
    bad = broken_links() + broken_references()
    for link in bad:
        print(f"docs: broken link or reference {link}", file=sys.stderr)
    if bad:
        return 1
    print(f"docs: API reference in {args.out}; every relative link and reference resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
