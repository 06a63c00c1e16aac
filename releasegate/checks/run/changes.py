"""One journaled change, written ahead: intended (with its undo) before, updated during, done or failed after.

    with recorder.change("deploy", "deploy.undo", {"service": "api"}) as change:
        change.update({"service": "api", "colour": "green"})   # before starting green
        ...                                                    # an exception marks it failed (made)
        change.fail(params, made=False)                        # or say that nothing was changed

``Change`` writes ``change_intended``, ``change_updated``, ``change_done`` and ``change_failed``
(``checks.run.journal``). Without a journal (a library call outside a run) it only keeps the
events in ``sink``. The library (``checks.deploy.observe``, ``checks.database.stage``) takes any
``ChangeRecorder``; the plugins' ``StageRecorder`` is the one a step passes.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol

from releasegate.checks.run.journal import Journal


class ChangeHandle(Protocol):
    """What the code making a change tells the journal while it runs."""

    def update(self, params: dict[str, Any]) -> None: ...

    def done(self, params: dict[str, Any] | None = None) -> None: ...

    def fail(self, params: dict[str, Any] | None = None, *, made: bool = True) -> None: ...


class ChangeRecorder(Protocol):
    """Opens a journaled change: ``with recorder.change(action, params) as change: ...``."""

    def change(self, action: str, params: dict[str, Any], *,
               stage: str | None = None) -> AbstractContextManager[ChangeHandle]: ...


class Change:
    """A change of ``stage`` undone by ``action(params)``; a context manager (see the module's doc).

    Leaving the block without an outcome writes ``change_done`` with the newest params; an
    exception writes ``change_failed`` with ``made`` (true unless the code set ``made = False``:
    it knows nothing was changed yet) and is raised again.
    """

    def __init__(self, journal: Journal | None, stage: str, action: str, params: dict[str, Any], *,
                 scenario: str = "", sink: list[dict[str, Any]] | None = None) -> None:
        self.journal = journal
        self.stage, self.action, self.scenario = stage, action, scenario
        self.params = dict(params)
        self.key: str | None = None
        self.outcome: str | None = None  # done, failed
        self.made = True
        self.sink = sink if sink is not None else []

    def __enter__(self) -> Change:
        if self.journal is not None:
            self.key = self.journal.intend(self.stage, self.action, self.params, scenario=self.scenario)
        self._note("change_intended", undo={"action": self.action, "params": self.params})
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.outcome is not None:
            return
        if error is None:
            self.done()
        else:
            self.fail(made=self.made)

    def update(self, params: dict[str, Any]) -> None:
        self.params = dict(params)
        if self.journal is not None and self.key is not None:
            self.journal.change_updated(self.key, self.params)
        self._note("change_updated", params=self.params)

    def done(self, params: dict[str, Any] | None = None) -> None:
        self._finish("done", params)

    def fail(self, params: dict[str, Any] | None = None, *, made: bool = True) -> None:
        self.made = made
        self._finish("failed", params)

    def _finish(self, outcome: str, params: dict[str, Any] | None) -> None:
        if self.outcome is not None:
            raise RuntimeError(f"change {self.action!r} of {self.stage} already {self.outcome}")
        self.outcome = outcome
        if params is not None:
            self.params = dict(params)
        if self.journal is not None and self.key is not None:
            if outcome == "done":
                self.journal.change_done(self.key, self.params)
            else:
                self.journal.change_failed(self.key, self.params, made=self.made)
        fields: dict[str, Any] = {"params": self.params} | ({"made": self.made} if outcome == "failed" else {})
        self._note(f"change_{outcome}", **fields)

    def _note(self, event: str, **fields: Any) -> None:
        self.sink.append({"event": event, "stage": self.stage, "key": self.key, **fields})
