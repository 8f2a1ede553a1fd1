"""Issue 15 B/C: stdin, pager payloads and self-handled tracebacks behave as without %%sky."""

from __future__ import annotations

from nbdriver import Notebook


def test_input_without_stdin_is_a_sentence_and_does_not_block(nb: Notebook) -> None:
    """nbclient and papermill allow no stdin: the remote input() ends at once, later cells run."""
    res = nb.run("%%sky --name stdin1\nanswer = input('name? ')", timeout=60)
    assert res.status == "error"
    assert "This frontend does not answer input requests" in res.stderr
    assert res.error is not None and res.error["ename"] == "EOFError"
    res = nb.run("%%sky --name stdin1\nprint('still usable')", timeout=60)
    assert res.status == "ok" and "still usable" in res.stdout, res.error_text


def test_input_and_getpass_reach_a_frontend_that_allows_stdin(nb: Notebook) -> None:
    """JupyterLab answers input requests: the remote input() and getpass() get its answers."""
    code = (
        "%%sky --name stdin2\nimport getpass\nname = input('name? ')\n"
        "word = getpass.getpass('password? ')\nprint('hello', name, len(word))"
    )
    msg_id = nb.send(code, allow_stdin=True)
    asked = []
    for answer in ("Ada", "s3cret"):
        request = nb.kc.get_stdin_msg(timeout=60)
        asked.append((request["content"]["prompt"], request["content"]["password"]))
        nb.kc.input(answer)
    res = nb.collect(msg_id, timeout=60)
    assert asked == [("name? ", False), ("password? ", True)]
    assert res.status == "ok" and "hello Ada 6" in res.stdout, res.error_text


def test_pager_payload_reaches_the_frontend(nb: Notebook) -> None:
    """``len?`` puts its help in the reply's page payload, as a local cell does."""
    local = nb.run("len?")
    res = nb.run("%%sky --name pager1\nlen?", timeout=60)
    assert res.status == "ok", res.error_text
    pages = [p for p in res.reply.get("payload", []) if p.get("source") == "page"]
    assert pages, f"no page payload in {res.reply}"
    text = pages[0]["data"]["text/plain"]
    assert "Return the number of items in a container." in text
    assert [p["source"] for p in local.reply["payload"]] == ["page"]


def test_prun_output_reaches_the_pager(nb: Notebook) -> None:
    res = nb.run(
        "%%sky --name pager1\n%prun -q -T /dev/null sum(range(1000))\n%prun sum(range(10))",
        timeout=60,
    )
    assert res.status == "ok", res.error_text
    pages = [p for p in res.reply.get("payload", []) if p.get("source") == "page"]
    assert pages and "function calls" in pages[0]["data"]["text/plain"]


def test_traceback_the_cell_handles_itself_does_not_fail_it(nb: Notebook) -> None:
    """showtraceback() inside try/except shows the traceback; the cell still succeeds."""
    code = (
        "%%sky --name tb1\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n"
        "    get_ipython().showtraceback()\nprint('went on')"
    )
    res = nb.run(code, timeout=60)
    assert res.status == "ok", res.error_text
    assert res.error is not None and res.error["ename"] == "ZeroDivisionError"
    assert "went on" in res.stdout
    res = nb.run(
        "%%sky --name tb1\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    get_ipython().showtraceback()",
        timeout=60,
    )
    assert res.status == "ok" and res.error is not None, res.error_text


def test_uncaught_exception_still_fails_the_cell(nb: Notebook) -> None:
    res = nb.run("%%sky --name tb1\nprint('before')\nraise KeyError('gone')", timeout=60)
    assert res.status == "error" and res.error is not None and res.error["ename"] == "KeyError"
    assert "before" in res.stdout


def test_syntax_error_points_at_the_cell_line_like_ipython(nb: Notebook) -> None:
    """The offending line and caret, as IPython shows them, and no frame of magics.py."""
    res = nb.run("%%sky --name syn1\nx = 1\nprint('a'", timeout=60)
    assert res.status == "error"
    text = res.error_text
    assert "SyntaxError" in text and "print('a'" in text and "^" in text, text
    assert "magics.py" not in text and "run_cell_magic" not in text, text
    res = nb.run("%%sky --name syn1\nprint('usable')", timeout=60)
    assert res.status == "ok" and "usable" in res.stdout, res.error_text


def test_functions_brought_home_keep_their_attributes(nb: Notebook) -> None:
    """Annotations, docstring, kwdefaults, __wrapped__, qualname: as defined (interact(f) needs them)."""
    code = (
        "%%sky --name fn1\nimport functools\n"
        "def base(x: int, *, scale: float = 2.0) -> float:\n    return x * scale\n"
        "@functools.wraps(base)\ndef wrapped(*a, **k):\n    return base(*a, **k)\n"
        "def plain(x):\n    return x\nplain.__doc__ = 'set later'"
    )
    res = nb.run(code, timeout=60)
    assert res.status == "ok", res.error_text
    got = nb.value(
        "(base.__annotations__, base.__kwdefaults__, wrapped.__wrapped__.__name__, "
        "wrapped.__qualname__, wrapped.__annotations__, plain.__doc__, plain.__module__)"
    )
    assert got == (
        "({'x': <class 'int'>, 'scale': <class 'float'>, 'return': <class 'float'>}, "
        "{'scale': 2.0}, 'base', 'base', {'x': <class 'int'>, 'scale': <class 'float'>, "
        "'return': <class 'float'>}, 'set later', '__main__')"
    )
