"""Load stages with Locust, run out of process (importing locust patches the process with gevent).

- ``locustfile``: the Locust users and ``LoadTestShape`` stages, loaded only by Locust itself;
- ``stats``: what one stage did and its thresholds, the contract between the locustfile and the runner;
- ``runner``: starts Locust (one process, or a master and workers), judges every stage;
- ``under_load``: an SLO analysis measured while a load profile runs;
- ``representative``: a load profile held for as long as a canary runs (``deploy.canary.load``).
"""

from releasegate.load.representative import canary_load, representative_load
from releasegate.load.runner import LoadResult, LoadRun, profile_for, report_dir, run_load, run_profile, start_profile
from releasegate.load.stats import StageRecord, breaches, percentile, stage_figures
from releasegate.load.under_load import analysis_under_load, measure_under_load

__all__ = [
    "LoadResult",
    "LoadRun",
    "StageRecord",
    "analysis_under_load",
    "breaches",
    "canary_load",
    "measure_under_load",
    "percentile",
    "profile_for",
    "report_dir",
    "representative_load",
    "run_load",
    "run_profile",
    "stage_figures",
    "start_profile",
]
