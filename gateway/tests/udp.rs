//! UDP: one frame per datagram, acked to the datagram's source address after the store.

mod common;

use astra_proto::v1::Transport;
use common::*;
use std::time::Duration;
use tokio::net::UdpSocket;

#[tokio::test(flavor = "multi_thread")]
async fn datagram_is_stored_then_acked_to_its_source() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let (_c, js) = jetstream(&nats).await;
    let dev = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gw_addr = format!("127.0.0.1:{}", gw.port);
    let mut buf = [0u8; 16];

    // Bad CRC: no ack.
    let mut bad = hex(K2);
    bad[20] ^= 1;
    dev.send_to(&bad, &gw_addr).await.unwrap();
    // Not a single whole frame: no ack.
    dev.send_to(&hex(K2)[..30], &gw_addr).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), dev.recv_from(&mut buf))
            .await
            .is_err()
    );

    let frame = hex(K2);
    dev.send_to(&frame, &gw_addr).await.unwrap();
    let (n, from) = tokio::time::timeout(5 * SEC, dev.recv_from(&mut buf))
        .await
        .expect("ack")
        .unwrap();
    assert_eq!(&buf[..n], &[0x06]);
    assert_eq!(
        from.to_string(),
        gw_addr,
        "ack comes from the address the device sent to"
    );
    let frames = raw_frames(&js).await;
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].imei, K2_IMEI);
    assert_eq!(frames[0].transport, i32::from(Transport::Udp));
    assert_eq!(frames[0].remote_addr, dev.local_addr().unwrap().to_string());
    assert_eq!(frames[0].frame, frame);

    // Many datagrams from several devices: each acked, each stored once.
    for i in 0..50u32 {
        dev.send_to(&k_frame(&imei(i), i), &gw_addr).await.unwrap();
    }
    let mut acks = 0;
    while acks < 50 {
        let (n, _) = tokio::time::timeout(5 * SEC, dev.recv_from(&mut buf))
            .await
            .expect("ack")
            .unwrap();
        acks += n;
    }
    assert_eq!(raw_frames(&js).await.len(), 51);
    assert_eq!(
        gw.metric("astra_gateway_frames_rejected_total{reason=\"bad_crc\"}")
            .await,
        1.0
    );
    assert_eq!(
        gw.metric("astra_gateway_frames_rejected_total{reason=\"truncated\"}")
            .await,
        1.0
    );
}
