# An independent client (Python websockets 10.4) that expects its upgrade to be refused.
# usage: /usr/bin/python3 py_refused_client.py WS_URL ; prints "STATUS <code>" on an HTTP refusal, exits 0;
# exits 1 if the upgrade succeeded.
import asyncio, sys, websockets

async def main(url):
    try:
        async with websockets.connect(url, open_timeout=5):
            print("UPGRADED", flush=True)
            return 1
    except websockets.exceptions.InvalidStatusCode as refused:
        print("STATUS", refused.status_code, flush=True)
        return 0

sys.exit(asyncio.run(main(sys.argv[1])))
