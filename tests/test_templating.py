"""The template scope's caching: each variable rendered once where that is safe, never where it is not."""

from __future__ import annotations

from enforcer import templating
from enforcer.templating import Data, Scope, render


def _counting(monkeypatch):
    runs: list[str] = []
    real = templating._run

    def run(source, scope, where, native):
        runs.append(source.strip())
        return real(source, scope, where, native)

    monkeypatch.setattr(templating, "_run", run)
    return runs


def test_a_variable_is_rendered_once_for_all_of_a_scope_s_loop_items(monkeypatch):
    runs = _counting(monkeypatch)
    scope = Scope({"base": "{{ 20 + 1 }}"}, where="t")
    values = [render("{{ base * item }}", scope.child({"item": i}), "t") for i in (1, 2, 3)]
    assert values == [21, 42, 63]
    assert runs.count("20 + 1") == 1


def test_a_variable_that_reads_the_item_is_rendered_for_each_item(monkeypatch):
    runs = _counting(monkeypatch)
    scope = Scope({"twice": "{{ item * 2 }}", "outer": "{{ twice + 1 }}"}, where="t")
    assert [render("{{ outer }}", scope.child({"item": i}), "t") for i in (1, 2)] == [3, 5]
    assert runs.count("item * 2") == 2, "twice reads item, and outer reads twice: neither may be shared"


def test_a_shared_cache_serves_scopes_over_the_same_layers():
    cache: dict = {}
    layers = ({"x": "{{ 1 + 1 }}"},)
    assert Scope(*layers, cache=cache)["x"] == 2
    assert cache == {"x": 2}
    assert Scope(*layers, cache=cache, where="later task")["x"] == 2


def test_data_layers_are_never_rendered():
    planted = "{{ lookup('env', 'HOME') }}"
    scope = Scope({"shown": "{{ answer.text }}"}, Data(answer={"text": planted}))
    assert scope["shown"] == planted
    assert scope["answer"] == {"text": planted}
