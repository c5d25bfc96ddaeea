"""Sphinx configuration of the course website (`make site`, lessons_lib/course/site.py).

The source folder is generated (build/site-src/): the executed lessons, already run by
`python -m lessons_lib.course build`; MyST-NB renders them without executing anything.
"""

project = "From self-attention to BERT and GPT"
author = "the course's authors"
copyright = "the course's authors, MIT License"
root_doc = "00_start_here"  # the home page; _extra/index.html sends the site's root there

extensions = [
    "myst_nb",  # notebooks (and Markdown) as pages
    "sphinx-mathjax-offline",  # MathJax from the site itself, not a CDN: the site works offline
]
nb_execution_mode = "off"  # the notebooks were executed once, by the build
nb_render_markdown_format = "gfm"  # the glossary a lesson prints is a Markdown table
myst_enable_extensions = ["dollarmath", "amsmath"]
# the exercises are downloads, not pages
exclude_patterns = ["exercises/**"]
# a lesson's glossary is a "### Glossary" printed in a cell's output, under the page's H1
suppress_warnings = ["myst.header"]

html_theme = "sphinx_book_theme"
html_title = "Self-attention to BERT and GPT"
html_extra_path = ["_extra"]
html_last_updated_fmt = None  # no date on the pages: the same notebooks give the same site
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,  # each page's executed notebook (.ipynb), as the site shows it
    "use_fullscreen_button": False,
}
