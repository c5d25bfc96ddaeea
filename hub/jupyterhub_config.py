"""JupyterHub for a demo class of this course on one machine (`make hub`; tests/test_hub.py).

Everything is set from the environment that `hub/demo.py` prepares, so that the demo and the test
run the same configuration:

    COURSE_CLASS_DIR     the class's folder: hub database, homes, nbgrader's exchange, instructor
    COURSE_HUB_PORT      the port learners open (127.0.0.1 only); COURSE_HUB_API_PORT, COURSE_PROXY_API_PORT
    COURSE_INSTRUCTOR    the instructor's user name; COURSE_STUDENTS: the students', comma-separated
    COURSE_HUB_PASSWORD  the demo password every account shares
    COURSE_ID            the course's id in nbgrader's exchange

Demo choices, each to be replaced for a real class (README, "Teaching a class"):
- DummyAuthenticator with one shared password: anyone who knows it can log in as any allowed
  name. For a class: an LMS (LTI 1.3) or OAuth authenticator (oauthenticator: GitHub, Google,
  Microsoft), or NativeAuthenticator (students sign up, the instructor approves).
- SimpleLocalProcessSpawner: every user's server runs as the hub's own Unix user, so students
  are not isolated from each other. For a class: Zero to JupyterHub on Kubernetes (hub/k8s/), a
  container per user.
- The proxy is the Python implementation of configurable-http-proxy (PyPI), which installs with
  pip like everything else here; the npm package of the same name works the same way.
"""

import os
import sys
from pathlib import Path

CLASS_DIR = Path(os.environ["COURSE_CLASS_DIR"]).resolve()
INSTRUCTOR = os.environ["COURSE_INSTRUCTOR"]
STUDENTS = [name for name in os.environ["COURSE_STUDENTS"].split(",") if name]
COURSE_ID = os.environ["COURSE_ID"]
BIN = Path(sys.executable).parent  # the course's virtual environment

c = get_config()  # noqa: F821 (JupyterHub provides get_config when it reads this file)

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["COURSE_HUB_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["COURSE_HUB_API_PORT"])
c.JupyterHub.db_url = f"sqlite:///{CLASS_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(CLASS_DIR / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(CLASS_DIR / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.ConfigurableHTTPProxy.command = [str(BIN / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['COURSE_PROXY_API_PORT']}"

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["COURSE_HUB_PASSWORD"]
c.Authenticator.allowed_users = {INSTRUCTOR, *STUDENTS}
c.Authenticator.admin_users = {INSTRUCTOR}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(CLASS_DIR / "home" / "{username}")
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.environment = {
    "PATH": os.pathsep.join([str(BIN), "/usr/local/bin", "/usr/bin", "/bin"]),
    "HF_HUB_OFFLINE": "1",
    "MPLBACKEND": "Agg",
}
if os.getuid() == 0:  # a container's root: Jupyter Server refuses root unless told
    c.Spawner.args = ["--allow-root"]


def nbgrader_config(spawner) -> None:
    """Before a server starts: each user's nbgrader configuration, in their home's .jupyter folder.

    Students submit under their hub name (one Unix user serves them all here); the instructor's
    formgrader works on the class folder's instructor course directory.
    """
    name = spawner.user.name
    home = Path(spawner.home_dir)
    (home / ".jupyter").mkdir(parents=True, exist_ok=True)
    lines = [
        "c = get_config()  # noqa: F821",
        f"c.Exchange.root = {str(CLASS_DIR / 'exchange')!r}",
        f"c.CourseDirectory.course_id = {COURSE_ID!r}",
    ]
    if name == INSTRUCTOR:
        lines += [f"c.CourseDirectory.root = {str(CLASS_DIR / 'instructor')!r}",
                  f"c.CourseDirectory.db_url = {'sqlite:///' + str(CLASS_DIR / 'instructor' / 'gradebook.db')!r}"]
    else:
        lines += [f"c.CourseDirectory.student_id = {name!r}",
                  f"c.Exchange.cache = {str(home / '.nbgrader_cache')!r}"]
    (home / ".jupyter" / "nbgrader_config.py").write_text("\n".join(lines) + "\n", encoding="utf-8")


c.Spawner.pre_spawn_hook = nbgrader_config
