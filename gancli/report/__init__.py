"""A run's report: one self-contained HTML page (``gancli report``), read from its run directory and
made with its checkpoint's networks. The page code it shares with ``gancli compare``'s study page
is in gancli.viz.html."""
from gancli.report.context import RunContext, RunReportRequest, default_points, parse_points
from gancli.report.run_page import RunReport, WrittenReport, build_run_report, default_out, write_run_report

__all__ = ["RunContext", "RunReport", "RunReportRequest", "WrittenReport", "build_run_report", "default_out",
           "default_points", "parse_points", "write_run_report"]
