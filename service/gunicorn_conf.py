"""gunicorn settings for the container: threads for the I/O-bound token relay, nothing written to
the read-only root filesystem (worker heartbeats go to the /tmp volume, no control socket)."""

import logging
import os

# The app's own log lines (rejections and their reasons) next to gunicorn's, in CloudWatch Logs.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_tmp_dir = "/tmp"  # noqa: S108 (a task volume, the only writable path)
control_socket_disable = True
# Longer than the ALB's 60 s idle timeout, so the ALB closes idle connections first (no 502s).
keepalive = 75
timeout = 30
graceful_timeout = 20
# ALB headers carry the signed claims and the access token: allow them, but no more.
limit_request_field_size = 16384
accesslog = "-"
errorlog = "-"
loglevel = "info"
# Only the ALB reaches the task (security group); its X-Forwarded-* headers are the real ones.
forwarded_allow_ips = "*"
