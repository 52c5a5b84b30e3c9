"""The notifications service: webhook subscriptions to the system's domain events, delivered signed as the Standard
Webhooks specification says (第三十二条 of 渝府发〔2024〕18号: 主动推送), and the same events as a pull feed."""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parent
# The version of the delivery code, shown in the API's document. Change it whenever what a receiver gets changes.
CODE_VERSION = "notifications-1.0.0"
