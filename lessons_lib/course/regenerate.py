"""exercises/ from solutions/: nbgrader's own generate_assignment, configured by course/nbgrader_config.py.

The exercises come out byte for byte as `cd course && nbgrader generate_assignment NAME` writes
them (without its gradebook). `regenerate --check` writes nothing and names what is out of date,
so CI fails when exercises/ drifts from solutions/.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from lessons_lib.course.assignment import assignment_names, load_assignment


def generate_exercises(root: Path, destination: Path) -> list[Path]:
    """Run nbgrader's generate_assignment on every assignment into destination; returns the files."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import SaveCells
    from traitlets.config.loader import PyFileConfigLoader

    names = assignment_names(root)
    for name in names:
        load_assignment(root / "solutions" / name / f"{name}.ipynb")  # fail early on bad metadata
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root / "course")).load_config()
    with tempfile.TemporaryDirectory(prefix="lessons-regenerate-") as course:
        shutil.copytree(root / "solutions", Path(course) / "source",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        config.CourseDirectory.root = course
        config.CourseDirectory.source_directory = "source"
        config.CourseDirectory.release_directory = "release"
        # generate_assignment without its gradebook: a throwaway database would add nothing here
        config.GenerateAssignment.no_database = True
        default = GenerateAssignment.class_traits()["preprocessors"].default()
        config.GenerateAssignment.preprocessors = [p for p in default if p is not SaveCells]
        for name in names:
            coursedir = CourseDirectory(config=config)
            coursedir.assignment_id = name
            converter = GenerateAssignment(coursedir=coursedir, config=config)
            converter.force = True
            converter.log.setLevel("ERROR")
            converter.start()
        release = Path(course) / "release"
        written = []
        for source in sorted(p for p in release.rglob("*") if p.is_file()):
            target = destination / source.relative_to(release)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(target)
    return written


def regenerate(root: Path, check: bool = False) -> list[str]:
    """Bring exercises/ up to date with solutions/; with check, only list what is out of date.

    Returns the paths (relative to root) that differ: written, or, with check, to be written.
    """
    exercises = root / "exercises"
    with tempfile.TemporaryDirectory(prefix="lessons-exercises-") as fresh:
        generated = {p.relative_to(fresh): p.read_bytes() for p in generate_exercises(root, Path(fresh))}
    current = {
        p.relative_to(exercises): p
        for p in exercises.rglob("*")
        if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in p.parts)
    } if exercises.is_dir() else {}
    changed = [rel for rel, data in generated.items() if rel not in current or current[rel].read_bytes() != data]
    stale = [rel for rel in current if rel not in generated]
    if not check:
        for rel in changed:
            (exercises / rel).parent.mkdir(parents=True, exist_ok=True)
            (exercises / rel).write_bytes(generated[rel])
        for rel in stale:
            (exercises / rel).unlink()
    return sorted(str(Path("exercises") / rel) for rel in changed + stale)

