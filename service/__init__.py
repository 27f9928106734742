"""The Fargate web app behind the ALB (see service/app.py) and its local development tools."""
