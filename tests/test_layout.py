"""The hub's shape (docs/ARCHITECTURE.md): one folder per concern, only the app factory and the
CLI at the top, and no import cycle anywhere, lazy imports inside functions included."""
import ast
import os

from tests.support.procs import ROOT

HUB = os.path.join(ROOT, "hub")


def _modules():
    """{module name: file} for every module of hub/."""
    out = {}
    for folder, _dirs, files in os.walk(HUB):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f), ROOT)[:-3].replace(os.sep, ".")
                out[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = \
                    os.path.join(folder, f)
    return out


def _imports(name, path, modules):
    """The hub modules `name` imports anywhere in its file (top level or inside a function).
    `from hub.x import y` counts as hub.x.y when y is a module, else as hub.x."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                sub = base + "." + a.name
                found.add(sub if sub in modules else base)
    return {m for m in found if m in modules and m != name}


def test_no_import_cycle_in_the_hub():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    # Tarjan's strongly connected components: any component of two or more is a cycle.
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))
    for m in sorted(graph):
        if m not in index:
            visit(m)
    assert not cycles, "modules that import each other in a circle: %s" % cycles


def test_the_cycle_check_finds_a_cycle():
    """The check above must be able to fail: a lazy import back into its importer is caught."""
    modules = {"hub.a": "a.py", "hub.b": "b.py"}
    src = {"hub.a": "from hub import b\n", "hub.b": "def f():\n    from hub.a import x\n"}
    graph = {}
    for m in modules:
        tree = ast.parse(src[m])
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    sub = node.module + "." + a.name
                    found.add(sub if sub in modules else node.module)
        graph[m] = {x for x in found if x in modules}
    assert "hub.b" in graph["hub.a"] and "hub.a" in graph["hub.b"]


def test_only_the_app_factory_and_the_cli_at_the_top():
    top = sorted(f for f in os.listdir(HUB) if f.endswith(".py"))
    assert top == ["__init__.py", "cli.py"]
    for d in sorted(os.listdir(HUB)):
        full = os.path.join(HUB, d)
        if os.path.isdir(full) and any(f.endswith(".py") for f in os.listdir(full)):
            assert os.path.exists(os.path.join(full, "__init__.py")), d
            doc = ast.get_docstring(ast.parse(open(os.path.join(full, "__init__.py")).read()))
            assert doc, "hub/%s/__init__.py says what the folder holds" % d
