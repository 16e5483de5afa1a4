#!/usr/bin/env python3
"""The drawn structure is the built one.

docs/ARCHITECTURE.md has a table between the markers "<!-- layers -->" and
"<!-- /layers -->": each folder, its CMake library and the folders it may use.
This check fails when
  - a source folder (one with .cpp or .hpp files under reports/, probes/,
    tuner/) is missing from the table, or the table names one that is gone;
  - a folder's CMakeLists.txt does not define the library the table gives;
  - a file includes a header from a folder its folder may not use;
  - a library links a batchtune library of a folder it may not use;
  - a file in a torch-free folder includes LibTorch.
Usage: architecture.py [REPO_ROOT]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1])
doc = (root / "docs/ARCHITECTURE.md").read_text()
m = re.search(r"<!-- layers -->(.*?)<!-- /layers -->", doc, re.S)
if not m:
    sys.exit("architecture: docs/ARCHITECTURE.md has no <!-- layers --> table")

folders = {}  # folder -> (library, allowed set, torch-free)
for line in m.group(1).splitlines():
    cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
    if len(cells) < 4 or cells[0] in ("folder", "") or set(cells[0]) <= set("-: "):
        continue
    folder, library, uses, torch = cells[:4]
    allowed = {u.strip().strip("`").rstrip("/") for u in uses.split(",") if u.strip() and u.strip() != "nothing"}
    folders[folder.rstrip("/")] = (library, allowed, torch == "no")

problems = []
on_disk = set()
for top in ("reports", "probes", "tuner"):
    for d in [root / top, *(p for p in (root / top).rglob("*") if p.is_dir())]:
        if any(f.suffix in (".cpp", ".hpp") for f in d.iterdir() if f.is_file()):
            on_disk.add(str(d.relative_to(root)))
# tuner/main.cpp is the executable, not a library folder.
on_disk.discard("tuner")
for f in sorted(on_disk - folders.keys()):
    problems.append(f"{f}/ holds sources but is not in docs/ARCHITECTURE.md's layers table")
for f in sorted(folders.keys() - on_disk):
    problems.append(f"docs/ARCHITECTURE.md's layers table names {f}/, which holds no sources")

library_folder = {lib: folder for folder, (lib, _, _) in folders.items()}
include_re = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def folder_of_header(path):
    if path.startswith("batchtune/"):
        return "tuner/api"  # include/batchtune: the API's public header
    best = None
    for f in folders:
        if path.startswith(f + "/") and (best is None or len(f) > len(best)):
            best = f
    return best


for folder, (library, allowed, torch_free) in sorted(folders.items()):
    d = root / folder
    if not d.is_dir():
        continue
    cmake = d / "CMakeLists.txt"
    text = cmake.read_text() if cmake.exists() else ""
    if not re.search(r"add_library\(\s*" + re.escape(library) + r"\b", text):
        problems.append(f"{folder}/CMakeLists.txt does not define {library}, as docs/ARCHITECTURE.md says")
    for call in re.findall(r"target_link_libraries\(\s*" + re.escape(library) + r"\b(.*?)\)", text, re.S):
        for lib in re.findall(r"batchtune_[a-z_]+", call):
            if lib in library_folder and library_folder[lib] != folder and library_folder[lib] not in allowed:
                problems.append(f"{folder}/CMakeLists.txt links {lib} ({library_folder[lib]}/), "
                                f"which {folder}/ may not use")
    for src in sorted(list(d.glob("*.cpp")) + list(d.glob("*.hpp"))):
        for inc in include_re.findall(src.read_text()):
            if torch_free and (inc.startswith("torch/") or inc.startswith("ATen/") or inc.startswith("c10/")):
                problems.append(f"{src.relative_to(root)} includes <{inc}> in a torch-free folder")
            owner = folder_of_header(inc)
            if owner and owner != folder and owner not in allowed:
                problems.append(f"{src.relative_to(root)} includes {inc} ({owner}/), which {folder}/ may not use")

for p in problems:
    print("architecture:", p)
print(f"architecture: {len(folders)} folders checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
