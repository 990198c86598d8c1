# ferry forwarder for Aliyun OSS: a Function Compute function with an OSS trigger POSTs the
# trigger event (bytes of the OSS {"events":[...]} JSON), unchanged, to ferry's event route.
# Python 3 standard library only.
#
# Environment: FERRY_EVENTS_URL  https://ferry.example.com/v1/tasks/NAME/events
#              FERRY_API_TOKEN   the API token (sent as "Authorization: Bearer ...")
# A non-2xx answer raises, so the invocation fails and FC's asynchronous retries deliver the
# event again (ferry deduplicates a repeat).
import os
import urllib.request


def handler(event, context):
    body = event if isinstance(event, (bytes, bytearray)) else str(event).encode("utf-8")
    req = urllib.request.Request(
        os.environ["FERRY_EVENTS_URL"],
        data=bytes(body),
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer " + os.environ["FERRY_API_TOKEN"]},
        method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # raises on 4xx/5xx
        answer = resp.read().decode("utf-8", "replace")
    print("ferry:", resp.status, answer)
    return answer
