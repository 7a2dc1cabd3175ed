/* loflood: 60-byte UDP/IPv4 frames (127.0.0.1 -> 127.0.0.1, PORT, 18 bytes of data) into the loopback
 * interface at RATE a second for SECONDS, evenly paced (benchmarks/sniff.py's generator; it builds it with cc).
 *
 *     loflood RATE SECONDS PORT
 *
 * The frames go out through an AF_PACKET socket (packet(7)) and the qdisc, as trafgen's --qdisc-path:
 * every packet socket on lo sees each twice (going out, coming in), as any loopback datagram. Their
 * destination MAC address is not lo's (00:00:00:00:00:00), so they come in as PACKET_OTHERHOST and the
 * IP layer drops them at once (ip_rcv): no socket reads them, nothing answers, and the kernel spends
 * little beyond handing them to the packet sockets, so one core sends several hundred thousand a second. sendmmsg(2) batches, never more than the schedule allows (the frames due
 * by now, at most BATCH at once), a 20-microsecond nap whenever it is ahead: the traffic is even at the
 * scale of a tenth of a millisecond. (trafgen's --rate sends each second's frames in one burst at its
 * top speed; its --gap, a nanosleep between frames, tops out near 15,000 a second.)
 * Prints the frames sent and the seconds taken.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 16

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* The Internet checksum (RFC 1071) of the 20-byte IPv4 header at ip. */
static uint16_t header_checksum(const uint8_t *ip)
{
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)ip[i] << 8 | ip[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: loflood RATE SECONDS PORT\n");
        return 2;
    }
    double rate = atof(argv[1]), seconds = atof(argv[2]);
    long total = (long)(rate * seconds);
    int port = atoi(argv[3]);
    /* Ethernet (to 02:00:00:00:00:01, from 00:00:00:00:00:00), IPv4 (length 46, TTL 64, UDP), UDP (no checksum) */
    uint8_t frame[60] = {[0] = 0x02, [5] = 0x01, [12] = 0x08, [14] = 0x45, [17] = 46, [22] = 64, [23] = 17,
                         [26] = 127, [29] = 1, [30] = 127, [33] = 1,
                         [34] = 0x9c, [35] = 0x40, [38] = 0, [39] = 26};
    frame[36] = port >> 8;
    frame[37] = port & 0xff;
    memset(frame + 42, 'x', 18);
    uint16_t checksum = header_checksum(frame + 14);
    frame[24] = checksum >> 8;
    frame[25] = checksum & 0xff;

    int fd = socket(AF_PACKET, SOCK_RAW, 0);          /* protocol 0: it hears nothing itself */
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
                             .sll_ifindex = (int)if_nametoindex("lo")};
    if (fd < 0 || to.sll_ifindex == 0) {
        perror("loflood: an AF_PACKET socket on lo");
        return 1;
    }
    struct iovec iov = {.iov_base = frame, .iov_len = sizeof frame};
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof to;
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const struct timespec nap = {0, 20000};
    long sent = 0;
    double start = now();
    while (sent < total) {
        long due = (long)(rate * (now() - start)) + 1;
        if (due > total)
            due = total;
        if (due <= sent) {
            nanosleep(&nap, NULL);
            continue;
        }
        int done = sendmmsg(fd, msgs, due - sent > BATCH ? BATCH : (int)(due - sent), 0);
        if (done < 0) {
            perror("loflood: sendmmsg");
            return 1;
        }
        sent += done;
    }
    printf("%ld %.6f\n", sent, now() - start);
    return 0;
}
