# ferry forwarder for Tencent COS: an SCF function with a COS trigger POSTs the trigger event,
# unchanged, to ferry's event route. Python 3 standard library only.
#
# Environment: FERRY_EVENTS_URL  https://ferry.example.com/v1/tasks/NAME/events
#              FERRY_API_TOKEN   the API token (sent as "Authorization: Bearer ...")
# A non-2xx answer raises, so SCF's asynchronous retries deliver the event again (ferry
# deduplicates a repeat; a 400 is logged and will fail the same way again: fix the task).
import json
import os
import urllib.request


def main_handler(event, context):
    req = urllib.request.Request(
        os.environ["FERRY_EVENTS_URL"],
        data=json.dumps(event).encode("utf-8"),
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer " + os.environ["FERRY_API_TOKEN"]},
        method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # raises on 4xx/5xx
        answer = resp.read().decode("utf-8", "replace")
    print("ferry:", resp.status, answer)
    return answer
