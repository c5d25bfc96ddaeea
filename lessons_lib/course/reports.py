"""What grading writes: grades.csv (a row per submission, a column per question) and one feedback
file per submission, which says what failed without showing any hidden test code."""

from __future__ import annotations

import csv
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from lessons_lib.course.model import Assignment, SubmissionResult, number


def student_id(submission: str, assignment: Assignment) -> str:
    """The nbgrader student id of a submission: STUDENT in nbgrader's own layout, else the file's stem.

    nbgrader's layout is `.../STUDENT/ASSIGNMENT/NOTEBOOK.ipynb` (`submitted/kim_minji/01_self_attention/
    01_self_attention.ipynb`): the parent folder is the assignment and the file keeps the exercise's
    name. A file that keeps the exercise's name in any other folder is named by that folder, as an LMS
    download lays it out (`inbox/kim_minji/01_self_attention.ipynb`). Any other file is named after its
    student (`kim_minji.ipynb`, `01_self_attention/kim_minji.ipynb`). The id is in Unicode's NFC form,
    so that a name uploaded from macOS (decomposed Hangul, 김철수 as ㄱ+ㅣ+ㅁ...) is the same student.
    """
    path = Path(os.path.abspath(submission))
    name = path.stem
    if path.name == assignment.path.name:
        if path.parent.name == assignment.name and path.parent.parent.name:
            name = path.parent.parent.name
        elif path.parent.name:
            name = path.parent.name
    return unicodedata.normalize("NFC", name)



def feedback_markdown(result: SubmissionResult, assignment: Assignment) -> str:
    """The feedback for one submission: score per question and what failed, never hidden test code
    (nor the grading machine's paths: the notebook is named by its file name)."""
    lines = [
        f"# Feedback: {assignment.name}",
        "",
        f"Student: {student_id(result.submission, assignment)}",
        "",
        f"Notebook: `{Path(result.submission).name}`",
        "",
        f"**Score: {number(result.total)} / {number(assignment.max_total)}**",
        "",
    ]
    if result.problem:
        lines += [result.problem, ""]
    for question in result.questions:
        lines += [f"## {question.id}: {number(question.score)} / {number(question.points)}", ""]
        lines += [f"- {note}" for note in question.notes] or ["- Not graded."]
        lines.append("")
    return "\n".join(lines)


def feedback_names(submissions: Sequence[str]) -> list[str]:
    """A distinct, file-system-safe feedback file name for every submission path, in Unicode (NFC):
    김철수.ipynb gets 김철수.md."""
    paths = [Path(os.path.abspath(s)) for s in submissions]
    common = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    names, seen = [], set()
    for path in paths:
        stem = unicodedata.normalize("NFC", "__".join(path.relative_to(common).with_suffix("").parts))
        stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "submission"  # \w: letters of any script
        name, counter = stem, 1
        while name.lower() in seen:
            counter += 1
            name = f"{stem}-{counter}"
        seen.add(name.lower())
        names.append(f"{name}.md")
    return names


def write_reports(results: Sequence[SubmissionResult], assignment: Assignment, out_dir: Path) -> Path:
    """Write out_dir/grades.csv and out_dir/feedback/*.md; returns the CSV's path."""
    feedback_dir = out_dir / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    names = feedback_names([r.submission for r in results])
    csv_path = out_dir / "grades.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "student", "total", "max_total", *(q.id for q in assignment.questions),
                         "feedback"])
        for result, name in zip(results, names, strict=True):
            scores = [number(q.score) for q in result.questions]
            writer.writerow([result.submission, student_id(result.submission, assignment), number(result.total),
                             number(assignment.max_total), *scores, f"feedback/{name}"])
            (feedback_dir / name).write_text(feedback_markdown(result, assignment), encoding="utf-8")
    return csv_path
