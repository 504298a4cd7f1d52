"""Reports for people deciding with pictures and tables: ``report`` (one model) and the page of
``compare`` (several architectures on one data set and board; trained and measured by
``edgecnn.comparison``). HTML + Markdown + PNG."""
from .compare import Comparison, host_latency_us, pareto_front, write_comparison
from .model_report import ModelReport, feature_maps, first_conv_filters, report

__all__ = ["ModelReport", "report", "feature_maps", "first_conv_filters", "Comparison",
           "host_latency_us", "pareto_front", "write_comparison"]
