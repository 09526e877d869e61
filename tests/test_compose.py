"""Static checks of docker-compose.yml and the Dockerfiles in platform/ (no Docker engine needed).

Every process a container starts must exist in this project, the GPU workers must ask for a GPU, the
guard must never run under Celery's prefork pool, and the web image must stay free of torch.

Run alone: .venv/bin/python -m pytest -p no:django -p no:cacheprovider --noconftest -o addopts="" tests/test_compose.py
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
REQUIRED_SERVICES = (
    "postgres",
    "redis",
    "migrate",
    "web",
    "guard-worker",
    "train-worker",
    "beat",
    "default-worker",
    "webhook-worker",
)
GPU_SERVICES = ("guard-worker", "train-worker")
CELERY_SUBCOMMANDS = frozenset({"worker", "beat", "inspect", "control", "status", "purge", "call", "events"})
SHELL_OPERATORS = frozenset({"&&", "||", ";", "|", "&"})
PATH_ARGUMENT = re.compile(r"^[\w.-]+(/[\w.-]+)*\.(py|conf|cfg|ini|toml|ya?ml|txt|lock|json)$")


def _load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


COMPOSE = _load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE.get("services") or {}
BUILT_SERVICES = sorted(name for name, service in SERVICES.items() if "build" in service)


# --- helpers ---------------------------------------------------------------------------------------
def interpolate(value: str) -> str:
    """Resolve compose's `${VAR:-default}` forms to their defaults, as with an empty environment."""

    def replace(match: re.Match[str]) -> str:
        operator, word = match.group(2) or "", match.group(3) or ""
        if operator in (":-", "-"):
            return word
        if operator in (":?", "?"):
            return "set-by-the-operator"
        return ""

    value = re.sub(r"\$\{(\w+)(?:(:?[-?+])([^}]*))?\}", replace, value)
    return value.replace("$$", "$")


def as_argv(command: str | list[str]) -> list[str]:
    if isinstance(command, str):
        return shlex.split(interpolate(command))
    return [interpolate(str(part)) for part in command]


def simple_commands(argv: list[str]) -> list[list[str]]:
    """The commands a container runs: `sh -c "a && exec b"` is two commands, `a` and `b`."""
    if len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        lexer = shlex.shlex(argv[2], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands: list[list[str]] = [[]]
        for token in lexer:
            if token in SHELL_OPERATORS:
                commands.append([])
            else:
                commands[-1].append(token)
        result = []
        for command in commands:
            while command and (command[0] == "exec" or re.match(r"^\w+=", command[0])):
                command = command[1:]
            if command:
                result.append(command)
        return result
    return [argv]


def option_value(argv: list[str], *names: str) -> str | None:
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def module_exists(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split(":")[0].split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def management_command_exists(name: str) -> bool:
    if any(ROOT.glob(f"*/management/commands/{name}.py")):
        return True
    spec = importlib.util.find_spec("django")  # finds the package without importing settings
    assert spec is not None, "Django is not installed"
    assert spec.submodule_search_locations, "Django is not a package"
    django_dir = Path(next(iter(spec.submodule_search_locations)))
    return (django_dir / "core/management/commands" / f"{name}.py").is_file() or any(
        django_dir.glob(f"contrib/*/management/commands/{name}.py")
    )


def problems_with_command(argv: list[str]) -> list[str]:
    """Why this command would not start in the project's image, or [] when it would."""
    if not argv:
        return ["empty command"]
    problems = []
    executable = argv[0]
    if executable not in ("python", "python3") and not (Path(sys.executable).parent / executable).exists():
        problems.append(f"`{executable}` is not installed in the project's environment")
    for arg in argv[1:]:
        if PATH_ARGUMENT.match(arg) and "/" in arg and not (ROOT / arg).is_file():
            problems.append(f"file argument {arg} does not exist")
    if executable == "celery":
        app = option_value(argv, "-A", "--app")
        if app is None:
            problems.append("celery without -A/--app")
        elif not module_exists(app):
            problems.append(f"celery app module {app} is not in the repo")
        if not CELERY_SUBCOMMANDS & set(argv):
            problems.append("celery without a subcommand")
    elif executable == "gunicorn":
        config = option_value(argv, "-c", "--config")
        if config is not None and not (ROOT / config).is_file():
            problems.append(f"gunicorn config {config} does not exist")
        positional = [
            arg for index, arg in enumerate(argv[1:], 1) if not arg.startswith("-") and argv[index - 1] != "-c"
        ]
        if not positional or not module_exists(positional[-1]):
            problems.append(f"gunicorn WSGI module {positional[-1:] or '(none)'} is not in the repo")
    elif executable in ("python", "python3") and len(argv) >= 2 and argv[1] == "manage.py":
        if not (ROOT / "manage.py").is_file():
            problems.append("manage.py does not exist")
        if len(argv) < 3:
            problems.append("manage.py without a command")
        elif not management_command_exists(argv[2]):
            problems.append(f"`manage.py {argv[2]}` is not a management command of this project or Django")
    return problems


def dockerfile_of(service: dict[str, Any]) -> Path:
    build = service["build"]
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    return ROOT / str(build.get("context", ".")) / str(build.get("dockerfile", "Dockerfile"))


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined, heredoc bodies skipped."""
    instructions: list[tuple[str, str]] = []
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        while stripped.endswith("\\"):
            following = next(lines, "").strip()
            if following.startswith("#"):
                continue
            stripped = stripped[:-1].rstrip() + " " + following
        keyword, _, arguments = stripped.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        for marker in re.findall(r"<<-?\s*['\"]?(\w+)['\"]?", arguments):
            for body in lines:
                if body.strip() == marker:
                    break
    return instructions


def copy_sources(arguments: str) -> list[str] | None:
    """The build-context sources of a COPY/ADD, or None for a copy from another stage or image."""
    parts: list[str] = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    flags = [part for part in parts if part.startswith("--")]
    if any(flag.startswith("--from") for flag in flags):
        return None
    paths = [part for part in parts if not part.startswith("--")]
    return paths[:-1]


def dockerignore_patterns() -> list[str]:
    path = ROOT / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith(("#", "!"))]


def dockerfiles() -> list[Path]:
    return sorted({dockerfile_of(service) for service in SERVICES.values() if "build" in service})


def default_command(path: Path) -> list[str] | None:
    commands = [arguments for keyword, arguments in dockerfile_instructions(path) if keyword == "CMD"]
    if not commands:
        return None
    last = commands[-1]
    return json.loads(last) if last.startswith("[") else ["sh", "-c", last]


def without_comments(path: Path) -> str:
    return "\n".join(f"{keyword} {arguments}" for keyword, arguments in dockerfile_instructions(path))


def is_guard_worker(argv: list[str]) -> bool:
    queues = option_value(argv, "-Q", "--queues") or ""
    return argv[:1] == ["celery"] and "worker" in argv and "guard" in queues.split(",")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: interpolate(str(value)) for key, value in env.items()}


# --- the services -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_every_platform_process_has_a_service(name: str) -> None:
    assert name in SERVICES, f"docker-compose.yml has no `{name}` service"


@pytest.mark.parametrize("name", BUILT_SERVICES)
def test_every_service_command_exists_in_the_project(name: str) -> None:
    service = SERVICES[name]
    assert "command" in service, f"{name}: give the command explicitly"
    for argv in simple_commands(as_argv(service["command"])):
        assert problems_with_command(argv) == [], f"{name}: {shlex.join(argv)}"


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.name)
def test_every_image_default_command_exists_in_the_project(dockerfile: Path) -> None:
    argv = default_command(dockerfile)
    assert argv is not None, f"{dockerfile.name} has no CMD"
    for command in simple_commands(argv):
        assert problems_with_command(command) == [], f"{dockerfile.name}: {shlex.join(command)}"


@pytest.mark.parametrize("name", BUILT_SERVICES)
def test_every_service_dockerfile_exists(name: str) -> None:
    path = dockerfile_of(SERVICES[name])
    assert path.is_file(), f"{name}: {path.relative_to(ROOT)} does not exist"


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.name)
def test_every_copied_path_exists_in_the_repo(dockerfile: Path) -> None:
    frontend_present = (ROOT / "frontend").is_dir()
    checked = 0
    for keyword, arguments in dockerfile_instructions(dockerfile):
        if keyword not in ("COPY", "ADD"):
            continue
        for source in copy_sources(arguments) or []:
            if source.startswith("frontend/") and not frontend_present:
                continue  # the web app is not in this checkout yet
            checked += 1
            if any(char in source for char in "*?["):
                assert any(ROOT.glob(source)), f"{dockerfile.name}: nothing matches COPY {source}"
            else:
                assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source} does not exist"
    assert checked, f"{dockerfile.name} copies nothing from the repo"


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.name)
def test_dockerignore_keeps_every_copied_path(dockerfile: Path) -> None:
    patterns = [pattern.strip("/").removeprefix("**/") for pattern in dockerignore_patterns()]
    for keyword, arguments in dockerfile_instructions(dockerfile):
        if keyword not in ("COPY", "ADD"):
            continue
        for source in copy_sources(arguments) or []:
            source = source.rstrip("/")
            if source in (".", ""):
                continue
            for pattern in patterns:
                dropped = fnmatch.fnmatch(source, pattern) or source.startswith(pattern + "/")
                assert not dropped, (
                    f"{dockerfile.name}: .dockerignore's `{pattern}` drops COPY {source} from the context"
                )


def test_services_sharing_an_image_tag_build_it_from_the_same_dockerfile() -> None:
    built_from: dict[str, set[Path]] = {}
    for service in SERVICES.values():
        if "build" in service and "image" in service:
            built_from.setdefault(service["image"], set()).add(dockerfile_of(service))
    assert {tag: paths for tag, paths in built_from.items() if len(paths) > 1} == {}


# --- GPUs and the guard ----------------------------------------------------------------------------------
def gpu_reservations(service: dict[str, Any]) -> list[dict[str, Any]]:
    devices = (((service.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get("devices") or []
    return [
        device for device in devices if device.get("driver") == "nvidia" and "gpu" in device.get("capabilities", [])
    ]


@pytest.mark.parametrize("name", GPU_SERVICES)
def test_gpu_workers_reserve_an_nvidia_gpu(name: str) -> None:
    assert gpu_reservations(SERVICES[name]), f"{name} reserves no nvidia GPU"
    assert "profiles" not in SERVICES[name], f"{name} belongs in the default profile"
    assert dockerfile_of(SERVICES[name]).name == "Dockerfile.gpu"


def test_cpu_profile_runs_a_guard_worker_without_a_gpu() -> None:
    cpu_services = {name: service for name, service in SERVICES.items() if "cpu" in service.get("profiles", [])}
    guards = [
        name
        for name, service in cpu_services.items()
        if any(is_guard_worker(argv) for argv in simple_commands(as_argv(service.get("command", []))))
    ]
    assert guards, "the `cpu` profile has no guard worker"
    for name in cpu_services:
        assert not gpu_reservations(cpu_services[name]), f"{name} is in the cpu profile but reserves a GPU"


def documented_cpu_services() -> list[str]:
    """The services the header's command for machines without GPUs starts."""
    header = [line.lstrip("# ").strip() for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines()]
    commands = [line for line in header if "--profile cpu up" in line]
    assert commands, "docker-compose.yml's header does not say how to run without GPUs"
    return [arg for arg in shlex.split(commands[0].split(" up ", 1)[1]) if not arg.startswith("-")]


def consumed_queues(names: list[str]) -> set[str]:
    """The Celery queues the named services' workers take from."""
    queues: set[str] = set()
    for name in names:
        for argv in simple_commands(as_argv(SERVICES[name].get("command") or [])):
            if argv[:1] == ["celery"] and "worker" in argv:
                queues.update((option_value(argv, "-Q", "--queues") or "").split(","))
    return queues


def routed_queues() -> set[str]:
    from django.conf import settings

    return {settings.CELERY_TASK_DEFAULT_QUEUE, *(route["queue"] for route in settings.CELERY_TASK_ROUTES.values())}


def test_every_routed_queue_has_a_worker_with_gpus_and_without() -> None:
    # A queue nobody takes from loses nothing, but does nothing: webhooks would never be posted.
    gpu_profile = [name for name, service in SERVICES.items() if not service.get("profiles")]
    assert routed_queues() <= consumed_queues(gpu_profile)
    assert routed_queues() <= consumed_queues(documented_cpu_services())


def test_documented_cpu_command_starts_no_gpu_service() -> None:
    named = documented_cpu_services()
    assert named, "name the services to start: the GPU workers are in the default profile"
    for name in named:
        assert name in SERVICES, f"the documented command names an unknown service {name}"
        assert not gpu_reservations(SERVICES[name]), f"the documented CPU command starts {name}, which needs a GPU"
    assert any(
        is_guard_worker(argv) for name in named for argv in simple_commands(as_argv(SERVICES[name]["command"]))
    ), "the documented CPU command starts no guard worker"


GUARD_COMMANDS = [
    pytest.param(argv, id=f"service:{name}")
    for name, service in SERVICES.items()
    for argv in simple_commands(as_argv(service.get("command", [])))
    if is_guard_worker(argv)
] + [
    pytest.param(argv, id=f"image:{path.name}")
    for path in dockerfiles()
    for argv in simple_commands(default_command(path) or [])
    if is_guard_worker(argv)
]


def test_guard_worker_runs_in_the_compose_file() -> None:
    assert any(is_guard_worker(argv) for argv in simple_commands(as_argv(SERVICES["guard-worker"]["command"])))


@pytest.mark.parametrize("argv", GUARD_COMMANDS)
def test_guard_workers_never_use_the_prefork_pool(argv: list[str]) -> None:
    # vLLM starts an engine process; prefork's daemonic children may not have children.
    assert option_value(argv, "-P", "--pool") in ("threads", "solo"), shlex.join(argv)


@pytest.mark.parametrize("name", ["guard-worker", "train-worker", "guard-worker-cpu", "train-worker-cpu"])
def test_model_workers_share_the_model_store_volume(name: str) -> None:
    if name not in SERVICES:
        pytest.skip(f"no {name} service")
    store = environment(SERVICES[name]).get("MODEL_STORE")
    assert store, f"{name} has no MODEL_STORE"
    mounts = [str(volume) for volume in SERVICES[name].get("volumes", [])]
    assert f"models:{store}" in mounts, f"{name} does not mount the `models` volume at {store}"
    assert "models" in (COMPOSE.get("volumes") or {})


# --- the web image ---------------------------------------------------------------------------------------
def test_web_image_never_installs_torch_or_the_ml_stack() -> None:
    web = SERVICES["web"]
    assert "build" in web, "the web service must build platform/Dockerfile.web"
    text = without_comments(dockerfile_of(web))
    assert "ml.in" not in text
    assert not re.search(r"\btorch\b|\bvllm\b|\btransformers\b", text, re.IGNORECASE)
    assert not re.search(r"(-r|--requirement)\s+requirements\.lock", text), "the lock is only a constraint here"
    assert "requirements/web.in" in text


@pytest.mark.parametrize("name", ["web", "beat", "default-worker", "webhook-worker", "migrate"])
def test_torch_free_processes_use_the_web_image(name: str) -> None:
    assert dockerfile_of(SERVICES[name]) == dockerfile_of(SERVICES["web"])


def test_web_waits_for_migrations_and_probes_healthz() -> None:
    web = SERVICES["web"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert environment(web).get("HOST") == "0.0.0.0"
    test = web["healthcheck"]["test"]
    probe = " ".join(test) if isinstance(test, list) else test
    assert "/healthz" in probe
    if isinstance(test, list) and test[:3] == ["CMD", "python", "-c"]:
        compile(test[3], "healthcheck", "exec")


@pytest.mark.parametrize("name", BUILT_SERVICES)
def test_every_django_process_gets_the_production_settings(name: str) -> None:
    env = environment(SERVICES[name])
    assert env.get("DJANGO_ENV") == "production"
    assert env.get("SECRET_KEY") or env.get("SECRET_KEY_FILE"), "production settings need a secret key"
    assert env.get("ALLOWED_HOSTS")
    assert env.get("DATABASE_URL", "").startswith("postgres://")
    assert env.get("CELERY_BROKER_URL", "").startswith("redis://")


def test_platform_is_never_a_package() -> None:
    # platform/__init__.py would shadow the standard library's `platform` module.
    assert not (ROOT / "platform" / "__init__.py").exists()
