"""Weekly SLO reports: collect from Prometheus, render (HTML/Markdown/JSON), store, deliver."""
