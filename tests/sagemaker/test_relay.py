"""The relay's addresses: every model server behind a broker has a host port of its own."""

from sagepipe.sagemaker import relay


def test_brokers_alive_at_once_never_share_a_port():
    # The kernel hands a released free port out again; 500 at once make a repeat all but
    # certain (about 9 expected among ~14,000 even ports), so a shared port would show here.
    brokers = [relay.Broker() for _ in range(500)]
    ports = []
    try:
        ports = [relay.attach(broker) for broker in brokers]
        assert len(set(ports)) == len(ports)
        assert all(relay.broker_for("127.0.0.1", port) is broker
                   for port, broker in zip(ports, brokers, strict=True))
    finally:
        for port in ports:
            relay.detach(port)
        for broker in brokers:
            broker.close()
    assert all(relay.broker_for("127.0.0.1", port) is None for port in ports)
