/*
 * acl.c - POSIX ACLs for tablefs (-o acl): the rules a local Linux
 * filesystem takes from fs/posix_acl.c, over the xattr form of an ACL.
 *
 * With FUSE_CAP_POSIX_ACL the kernel checks access against the ACLs
 * itself (it reads system.posix_acl_access through getxattr and caches
 * it) and hands over, as setxattr, ACLs it has already parsed and
 * validated. What is left to the filesystem is what ties an ACL to the
 * mode: an access ACL sets the permission bits (and is not kept at all
 * when the bits say everything it says), chmod rewrites the ACL's owner,
 * mask and other entries, and a new node takes its parent's default ACL
 * instead of the umask. This file does those computations on the bytes
 * of an xattr value; it deliberately stores nothing (data.c and
 * tablefs.c keep the values as ordinary xattrs in the same batch as the
 * inode) and checks no permission (the kernel does).
 *
 * The xattr form (linux/posix_acl_xattr.h): a little-endian 32-bit
 * version (2), then entries of tag (16 bits), perm (16 bits), id (32
 * bits). Ids are those of the mount's user namespace: the daemon's.
 */
#include "fs/tablefs/internal.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#define ACL_XATTR_VERSION	2

/* Entry tags, in the order a valid ACL lists them. */
#define ACL_USER_OBJ	0x01
#define ACL_USER	0x02
#define ACL_GROUP_OBJ	0x04
#define ACL_GROUP	0x08
#define ACL_MASK	0x10
#define ACL_OTHER	0x20

#define ACL_HDR_SIZE	4
#define ACL_ENT_SIZE	8

static unsigned ent_tag(const unsigned char *e)
{
	uint16_t v;

	memcpy(&v, e, 2);
	return le16toh(v);
}

static unsigned ent_perm(const unsigned char *e)
{
	uint16_t v;

	memcpy(&v, e + 2, 2);
	return le16toh(v);
}

static uint32_t ent_id(const unsigned char *e)
{
	uint32_t v;

	memcpy(&v, e + 4, 4);
	return le32toh(v);
}

static void ent_set_perm(unsigned char *e, unsigned perm)
{
	uint16_t v = htole16((uint16_t)perm);

	memcpy(e + 2, &v, 2);
}

int tfs_acl_valid(const void *val, size_t len)
{
	const unsigned char *p = val;
	unsigned prev_tag = 0, seen = 0;
	uint32_t prev_id = 0, version;
	size_t n;

	if (len < ACL_HDR_SIZE || (len - ACL_HDR_SIZE) % ACL_ENT_SIZE)
		return -EINVAL;
	memcpy(&version, p, 4);
	if (le32toh(version) != ACL_XATTR_VERSION)
		return -EOPNOTSUPP;
	n = (len - ACL_HDR_SIZE) / ACL_ENT_SIZE;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = p + ACL_HDR_SIZE + i * ACL_ENT_SIZE;
		unsigned tag = ent_tag(e);
		bool named = tag == ACL_USER || tag == ACL_GROUP;

		if (ent_perm(e) & ~7u)
			return -EINVAL;
		if (tag != ACL_USER_OBJ && tag != ACL_USER &&
		    tag != ACL_GROUP_OBJ && tag != ACL_GROUP &&
		    tag != ACL_MASK && tag != ACL_OTHER)
			return -EINVAL;
		/* in tag order; one of each unnamed tag, named ones by id */
		if (tag < prev_tag || (tag == prev_tag &&
				       (!named || ent_id(e) <= prev_id)))
			return -EINVAL;
		prev_tag = tag;
		prev_id = ent_id(e);
		seen |= tag;
	}
	if (!n)
		return 0;	/* "no ACL": what removing it means */
	if ((seen & (ACL_USER_OBJ | ACL_GROUP_OBJ | ACL_OTHER)) !=
	    (ACL_USER_OBJ | ACL_GROUP_OBJ | ACL_OTHER))
		return -EINVAL;
	if ((seen & (ACL_USER | ACL_GROUP)) && !(seen & ACL_MASK))
		return -EINVAL;
	return 0;
}

int tfs_acl_equiv_mode(const void *val, size_t len, uint32_t *mode)
{
	const unsigned char *p = val;
	size_t n = (len - ACL_HDR_SIZE) / ACL_ENT_SIZE;
	uint32_t m = 0;
	int mask = -1, not_equiv = 0;

	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = p + ACL_HDR_SIZE + i * ACL_ENT_SIZE;
		unsigned perm = ent_perm(e) & 7;

		switch (ent_tag(e)) {
		case ACL_USER_OBJ:
			m |= perm << 6;
			break;
		case ACL_GROUP_OBJ:
			m |= perm << 3;
			break;
		case ACL_OTHER:
			m |= perm;
			break;
		case ACL_MASK:
			mask = (int)perm;
			not_equiv = 1;
			break;
		default:
			not_equiv = 1;
			break;
		}
	}
	if (mask >= 0)
		m = (m & ~(uint32_t)S_IRWXG) | ((uint32_t)mask << 3);
	*mode = (*mode & ~(uint32_t)0777) | m;
	return not_equiv;
}

void tfs_acl_chmod(void *val, size_t len, uint32_t mode)
{
	unsigned char *p = val, *group_obj = NULL, *mask = NULL;
	size_t n = (len - ACL_HDR_SIZE) / ACL_ENT_SIZE;

	for (size_t i = 0; i < n; i++) {
		unsigned char *e = p + ACL_HDR_SIZE + i * ACL_ENT_SIZE;

		switch (ent_tag(e)) {
		case ACL_USER_OBJ:
			ent_set_perm(e, (mode >> 6) & 7);
			break;
		case ACL_GROUP_OBJ:
			group_obj = e;
			break;
		case ACL_MASK:
			mask = e;
			break;
		case ACL_OTHER:
			ent_set_perm(e, mode & 7);
			break;
		}
	}
	/* The group bits of the mode are the mask when there is one. */
	if (mask)
		ent_set_perm(mask, (mode >> 3) & 7);
	else if (group_obj)
		ent_set_perm(group_obj, (mode >> 3) & 7);
}

int tfs_acl_create_masq(void *val, size_t len, uint32_t *mode)
{
	unsigned char *p = val, *group_obj = NULL, *mask = NULL;
	size_t n = (len - ACL_HDR_SIZE) / ACL_ENT_SIZE;
	uint32_t m = *mode;
	int not_equiv = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char *e = p + ACL_HDR_SIZE + i * ACL_ENT_SIZE;
		unsigned perm = ent_perm(e);

		switch (ent_tag(e)) {
		case ACL_USER_OBJ:
			perm &= (m >> 6) & 7;
			ent_set_perm(e, perm);
			m &= (perm << 6) | ~(uint32_t)S_IRWXU;
			break;
		case ACL_GROUP_OBJ:
			group_obj = e;
			break;
		case ACL_MASK:
			mask = e;
			not_equiv = 1;
			break;
		case ACL_OTHER:
			perm &= m & 7;
			ent_set_perm(e, perm);
			m &= perm | ~(uint32_t)S_IRWXO;
			break;
		default:
			not_equiv = 1;
			break;
		}
	}
	if (!mask)
		mask = group_obj;
	if (mask) {
		unsigned perm = ent_perm(mask) & ((m >> 3) & 7);

		ent_set_perm(mask, perm);
		m &= (perm << 3) | ~(uint32_t)S_IRWXG;
	}
	*mode = m;
	return not_equiv;
}
