"""The instructor and student tooling of the course, a module per job; also a command-line
program, `python -m lessons_lib.course regenerate | grade | build` (cli.py).

- model.py: the shared plain data (questions, steps, assignments, results), errors and limits
- assignment.py: an assignment read from its solution notebook; a submission's answer cells
- provenance.py: the rule that an answer must not be lessons_lib's own, checked in the source
  and in the kernel
- sandbox.py: the bubblewrap sandbox every grading kernel runs in, its limits and environment
- kernel.py: running a notebook's code in a fresh kernel in its own workspace, step by step, with
  timeouts that kill
- grading.py: the reference run, judging each question, grading a folder of submissions
- reports.py: grades.csv and the feedback files
- gradebook.py: the same scores in nbgrader's gradebook
- regenerate.py: exercises/ from solutions/ with nbgrader
- execute.py: running a whole notebook with papermill, as CI and the benchmarks do
- build.py: every notebook executed, rendered to HTML, its wall time and metrics tabulated
- cli.py: the command line
"""
