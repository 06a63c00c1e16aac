"""The releasegate library: checks that do the work and return evidence. No pytest here.

One package per release stage, each naming its public surface in its ``__init__``:

    runbook     the typed runbook and its loader
    preflight   read-only checks before anything changes
    database    backups, fingerprints, migrations and their rollback
    deploy      targets, strategies, traffic routers, the prober, the deployment record
    slo         the analysis engine, metrics, the phrase grammar, the Prometheus client
    run         the journal, the release policy (decision), the rollback plan, notifications
    _support    private: HTTP and Docker clients, hosts, processes, retries, paths

``result`` (CheckResult, Outcome), ``errors`` (the exception tree) and ``secrets`` (redaction)
are shared by all of them. Submodules are imported on use, not here.
"""

__all__ = ["database", "deploy", "errors", "preflight", "result", "run", "runbook", "secrets", "slo"]
