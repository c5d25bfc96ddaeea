"""nbgrader's configuration for this course: solutions/ is nbgrader's source, exercises/ its release.

`python -m lessons_lib.course regenerate` reads this file, so exercises/ comes out the same,
byte for byte, whether it or nbgrader itself generates them. To use nbgrader's own commands,
activate the course's virtual environment (nbgrader calls `alembic` from the PATH) and run them
from this folder:

    cd course && nbgrader generate_assignment 01_self_attention --force

Everything else nbgrader writes (its gradebook, log, submitted/, autograded/ and feedback/
folders) goes under build/nbgrader/, which git ignores. The course's own grader
(`python -m lessons_lib.course grade`) needs none of it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "nbgrader"
WORK.mkdir(parents=True, exist_ok=True)

c = get_config()  # noqa: F821 (nbgrader provides get_config when it reads this file)

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "build/nbgrader/submitted"
c.CourseDirectory.autograded_directory = "build/nbgrader/autograded"
c.CourseDirectory.feedback_directory = "build/nbgrader/feedback"
c.CourseDirectory.solution_directory = "build/nbgrader/release_solution"
c.CourseDirectory.db_url = f"sqlite:///{WORK / 'gradebook.db'}"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__"]
c.NbGrader.logfile = str(WORK / "nbgrader.log")
# Every exercise starts with the same cell: how to work, and where the file comes from.
c.IncludeHeaderFooter.header = str(ROOT / "course" / "header.ipynb")
