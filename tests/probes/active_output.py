"""Displays HTML with a script, JavaScript, SVG, a widget, a fake PNG: none may be active in feedback/formgrader."""

from IPython.display import HTML as _HTML
from IPython.display import SVG as _SVG
from IPython.display import Javascript as _Javascript
from IPython.display import display as _display

_display(_HTML("<b>probe</b><script>document.title='GAN-KIT-PROBE-XSS'</script><img src=x onerror=alert(1)>"))
_display(_Javascript("document.title = 'GAN-KIT-PROBE-XSS'"))
_display(_SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))
_display(
    {
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
        "image/png": "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "text/markdown": "[click](javascript:alert(1))",
    },
    raw=True,
)
