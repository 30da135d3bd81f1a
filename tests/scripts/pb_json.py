"""Prints Google's canonical proto3 JSON for protobuf messages, one per input line.

Usage: pb_json.py <descriptor-set file> <full message name> < hex-encoded messages
Used by tests/tests/json_canonical.rs to check that this project's JSON equals what the reference
protobuf implementation produces from the same bytes.
"""
import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


def main() -> None:
    fds = descriptor_pb2.FileDescriptorSet()
    with open(sys.argv[1], "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(sys.argv[2]))
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = cls()
        msg.ParseFromString(bytes.fromhex(line))
        print(json.dumps(json.loads(json_format.MessageToJson(msg, indent=None))))


if __name__ == "__main__":
    main()
